/* check_layout.py's own test: an include along the arrows. */
#ifndef MXCRAWL_UTIL_JBUF_H
#define MXCRAWL_UTIL_JBUF_H

#endif
