/* check_layout.py's own test: store includes scan, scan includes store. */
#ifndef MXCRAWL_STORE_STORE_H
#define MXCRAWL_STORE_STORE_H

#include "crawler/scan/probe.h"
#include "crawler/util/jbuf.h"

#endif
