/* check_layout.py's own test: jbuf and json need each other. */
#include "crawler/util/jbuf.h"
#include "crawler/util/json.h"
