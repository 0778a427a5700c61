/* error.c - status strings and the thread-local last-error message. */
#include <stdarg.h>
#include <stdio.h>

#include "vss_internal.h"

static _Thread_local char last_error[512];

vss_status vss_fail(vss_status s, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(last_error, sizeof last_error, fmt, ap);
  va_end(ap);
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
