/* error.c - status strings and the thread-local last-error message. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "vss_internal.h"

static _Thread_local char last_error[512];

/* The message is one line whatever a file holds: tensor names and strings
 * of a header may carry control characters (JSON "\n", "\u001b"), which
 * are written as \n, \t, \r or \xNN. */
vss_status vss_fail(vss_status s, const char *fmt, ...)
{
  char raw[sizeof last_error];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(raw, sizeof raw, fmt, ap);
  va_end(ap);
  size_t o = 0;
  for (const unsigned char *p = (const unsigned char *)raw; *p; p++) {
    char esc[5] = {(char)*p, 0};
    if (*p < 0x20 || *p == 0x7f)
      snprintf(esc, sizeof esc, *p == '\n' ? "\\n" : *p == '\t' ? "\\t"
               : *p == '\r' ? "\\r" : "\\x%02x", *p);
    size_t n = strlen(esc);
    if (o + n >= sizeof last_error) break;
    memcpy(last_error + o, esc, n);
    o += n;
  }
  last_error[o] = 0;
  return s;
}

const char *vss_last_error(void) { return last_error; }

const char *vss_status_str(vss_status s)
{
  switch (s) {
  case VSS_OK: return "ok";
  case VSS_ERR_ARG: return "bad argument";
  case VSS_ERR_IO: return "i/o error";
  case VSS_ERR_FORMAT: return "malformed file";
  case VSS_ERR_MISSING: return "missing tensor";
  case VSS_ERR_SHAPE: return "bad shape";
  case VSS_ERR_DTYPE: return "unsupported dtype";
  case VSS_ERR_NOMEM: return "out of memory";
  case VSS_ERR_VARIANT: return "variant not available";
  }
  return "unknown status";
}
