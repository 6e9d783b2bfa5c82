/* check_layout.py's own test: the other half of the loop in util/. */
#ifndef MXCRAWL_UTIL_JSON_H
#define MXCRAWL_UTIL_JSON_H

#include "crawler/util/jbuf.h"

#endif
