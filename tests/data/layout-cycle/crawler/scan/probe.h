/* check_layout.py's own test: the other half of the cycle. */
#ifndef MXCRAWL_SCAN_PROBE_H
#define MXCRAWL_SCAN_PROBE_H

#include "crawler/store/store.h"

#endif
