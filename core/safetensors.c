/* safetensors.c - reading and writing safetensors files.
 *
 * Layout: 8-byte little-endian header length N, N bytes of JSON header,
 * then the data region.  The header maps each tensor name to {"dtype",
 * "shape", "data_offsets": [begin, end]} (offsets into the data region),
 * plus an optional "__metadata__" object of strings.  A file is read whole
 * and validated before any tensor is handed out: the tensors must cover the
 * data region exactly, without gaps or overlaps.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "vss_internal.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors data is little-endian; this file assumes a little-endian host"
#endif

#define MAX_HEADER (100u << 20) /* larger headers are rejected as absurd */
#define MAX_EXACT 9007199254740992.0 /* 2^53: integers a double holds exactly */
#define META "__metadata__"

struct vss_st {
  char *path;
  unsigned char *buf; /* the whole file */
  const unsigned char *data;
  size_t data_len;
  cJSON *root;        /* owns the tensor names and the metadata strings */
  const cJSON *meta;  /* the __metadata__ object, or NULL */
  struct vss_tensor *t;
  size_t n;
};

static const char *const dtype_names[] = {
    [VSS_F32] = "F32", [VSS_F16] = "F16", [VSS_BF16] = "BF16", [VSS_F64] = "F64"};
static const size_t dtype_size[] = {
    [VSS_F32] = 4, [VSS_F16] = 2, [VSS_BF16] = 2, [VSS_F64] = 8};
#define NDTYPES (sizeof dtype_names / sizeof *dtype_names)

/* Offset of the first byte that is not valid UTF-8 or is a control
 * character other than JSON whitespace; n if there is none. */
static size_t bad_text(const unsigned char *s, size_t n)
{
  for (size_t i = 0; i < n;) {
    unsigned c = s[i], cp, min;
    size_t len;
    if (c < 0x80) {
      if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') return i;
      i++;
      continue;
    }
    if (c >= 0xc2 && c <= 0xdf) { len = 2; cp = c & 0x1f; min = 0x80; }
    else if ((c & 0xf0) == 0xe0) { len = 3; cp = c & 0x0f; min = 0x800; }
    else if (c >= 0xf0 && c <= 0xf4) { len = 4; cp = c & 0x07; min = 0x10000; }
    else return i;
    if (n - i < len) return i;
    for (size_t k = 1; k < len; k++) {
      if ((s[i + k] & 0xc0) != 0x80) return i;
      cp = cp << 6 | (s[i + k] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += len;
  }
  return n;
}

/* A JSON number holding a non-negative integer no larger than 2^53. */
static int json_uint(const cJSON *j, size_t *v)
{
  if (!cJSON_IsNumber(j)) return 0;
  double d = j->valuedouble;
  if (!(d >= 0 && d <= MAX_EXACT) || (double)(size_t)d != d) return 0;
  *v = (size_t)d;
  return 1;
}

/* The first key that occurs twice in a JSON object, or NULL. */
static const char *dup_key(const cJSON *obj)
{
  for (const cJSON *a = obj->child; a; a = a->next)
    for (const cJSON *b = a->next; b; b = b->next)
      if (strcmp(a->string, b->string) == 0) return a->string;
  return NULL;
}

/* The 8-byte header length, checked against the file size (before the
 * file is read: a claimed 2 GiB header fails at once, whatever the file). */
static vss_status check_hlen(const char *path, uint64_t hlen, size_t size)
{
  if (hlen > MAX_HEADER)
    return vss_fail(VSS_ERR_FORMAT, "%s: header length %llu is absurd (over %u bytes)",
                    path, (unsigned long long)hlen, MAX_HEADER);
  if (hlen > size - 8)
    return vss_fail(VSS_ERR_FORMAT, "%s: header length %llu runs past the end of "
                    "the file (%zu bytes)", path, (unsigned long long)hlen, size);
  return VSS_OK;
}

static vss_status read_file(const char *path, unsigned char **buf, size_t *size)
{
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return vss_fail(VSS_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  struct stat st;
  vss_status s = VSS_OK;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    s = vss_fail(VSS_ERR_IO, "%s: not a regular file", path);
    goto out;
  }
  *size = (size_t)st.st_size;
  uint64_t hlen;
  if (*size >= 8 && pread(fd, &hlen, 8, 0) == 8 && (s = check_hlen(path, hlen, *size)))
    goto out;
  *buf = malloc(*size ? *size : 1);
  if (!*buf) {
    s = vss_fail(VSS_ERR_NOMEM, "%s: cannot allocate %zu bytes", path, *size);
    goto out;
  }
  for (size_t got = 0; got < *size;) {
    ssize_t r = read(fd, *buf + got, *size - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      s = vss_fail(VSS_ERR_IO, "%s: cannot read: %s", path,
                   r < 0 ? strerror(errno) : "file shrank while reading");
      free(*buf);
      *buf = NULL;
      goto out;
    }
    got += (size_t)r;
  }
out:
  close(fd);
  return s;
}

/* Parses one header entry {"dtype", "shape", "data_offsets"} into t. */
static vss_status parse_entry(vss_st *f, const cJSON *e, struct vss_tensor *t)
{
  const char *path = f->path, *name = e->string;
  if (!cJSON_IsObject(e))
    return vss_fail(VSS_ERR_FORMAT, "%s: tensor '%s': entry is not an object",
                    path, name);
  const char *dup = dup_key(e);
  if (dup)
    return vss_fail(VSS_ERR_FORMAT, "%s: tensor '%s': duplicate field '%s'",
                    path, name, dup);
  t->name = name;

  const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
  if (!cJSON_IsString(dt))
    return vss_fail(VSS_ERR_FORMAT, "%s: tensor '%s': dtype missing or not a string",
                    path, name);
  size_t k = 0;
  while (k < NDTYPES && strcmp(dt->valuestring, dtype_names[k]) != 0) k++;
  if (k == NDTYPES)
    return vss_fail(VSS_ERR_DTYPE,
                    "%s: tensor '%s': unsupported dtype '%s' (F32, F16, BF16, F64 load)",
                    path, name, dt->valuestring);
  t->dtype = (enum vss_dtype)k;

  const cJSON *sh = cJSON_GetObjectItemCaseSensitive(e, "shape");
  if (!cJSON_IsArray(sh))
    return vss_fail(VSS_ERR_FORMAT, "%s: tensor '%s': shape missing or not an array",
                    path, name);
  int nd = cJSON_GetArraySize(sh), ovf = 0;
  if (nd > VSS_MAX_DIMS)
    return vss_fail(VSS_ERR_SHAPE, "%s: tensor '%s': %d dims, at most %d supported",
                    path, name, nd, VSS_MAX_DIMS);
  t->ndim = nd;
  t->numel = 1;
  const cJSON *d = sh->child;
  for (int i = 0; i < nd; i++, d = d->next) {
    if (!json_uint(d, &t->shape[i]))
      return vss_fail(VSS_ERR_FORMAT,
                      "%s: tensor '%s': shape entry %d is not an integer in [0, 2^53]",
                      path, name, i);
    t->numel = vss_mul_ovf(t->numel, t->shape[i], &ovf);
  }
  size_t bytes = vss_mul_ovf(t->numel, dtype_size[k], &ovf);
  if (ovf)
    return vss_fail(VSS_ERR_NOMEM, "%s: tensor '%s': shape's size overflows",
                    path, name);

  const cJSON *off = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
  size_t begin, end;
  if (!cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2 ||
      !json_uint(off->child, &begin) || !json_uint(off->child->next, &end))
    return vss_fail(VSS_ERR_FORMAT,
                    "%s: tensor '%s': data_offsets is not two integers in [0, 2^53]",
                    path, name);
  if (begin > end)
    return vss_fail(VSS_ERR_FORMAT, "%s: tensor '%s': data_offsets [%zu, %zu] begin "
                    "after they end", path, name, begin, end);
  if (end > f->data_len)
    return vss_fail(VSS_ERR_FORMAT,
                    "%s: tensor '%s': data_offsets [%zu, %zu] run past the data region "
                    "of %zu bytes", path, name, begin, end, f->data_len);
  if (end - begin != bytes)
    return vss_fail(VSS_ERR_FORMAT,
                    "%s: tensor '%s': data_offsets [%zu, %zu] hold %zu bytes, "
                    "%zu elements of %s need %zu", path, name, begin, end,
                    end - begin, t->numel, dtype_names[k], bytes);
  t->data = f->data + begin;
  return VSS_OK;
}

static vss_status parse_meta(vss_st *f, const cJSON *m)
{
  if (f->meta)
    return vss_fail(VSS_ERR_FORMAT, "%s: duplicate '%s'", f->path, META);
  if (!cJSON_IsObject(m))
    return vss_fail(VSS_ERR_FORMAT, "%s: '%s' is not an object", f->path, META);
  const char *dup = dup_key(m);
  if (dup)
    return vss_fail(VSS_ERR_FORMAT, "%s: '%s': duplicate key '%s'", f->path, META, dup);
  for (const cJSON *v = m->child; v; v = v->next)
    if (!cJSON_IsString(v))
      return vss_fail(VSS_ERR_FORMAT, "%s: '%s': value of '%s' is not a string",
                      f->path, META, v->string);
  f->meta = m;
  return VSS_OK;
}

struct span { size_t begin, end, i; };

static int span_cmp(const void *a, const void *b)
{
  const struct span *x = a, *y = b;
  if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
  return (x->end > y->end) - (x->end < y->end);
}

/* The tensors must tile the data region: no overlap, no gap, no tail. */
static vss_status check_coverage(const vss_st *f)
{
  struct span *s = malloc((f->n ? f->n : 1) * sizeof *s);
  if (!s) return vss_fail(VSS_ERR_NOMEM, "%s: out of memory", f->path);
  for (size_t i = 0; i < f->n; i++) {
    const struct vss_tensor *t = &f->t[i];
    size_t begin = (size_t)((const unsigned char *)t->data - f->data);
    s[i] = (struct span){begin, begin + t->numel * dtype_size[t->dtype], i};
  }
  qsort(s, f->n, sizeof *s, span_cmp);
  vss_status st = VSS_OK;
  size_t pos = 0;
  for (size_t i = 0; i < f->n && !st; i++) {
    if (s[i].begin < pos)
      st = vss_fail(VSS_ERR_FORMAT, "%s: tensor '%s': data_offsets [%zu, %zu] overlap "
                    "tensor '%s'", f->path, f->t[s[i].i].name, s[i].begin,
                    s[i].end, f->t[s[i - 1].i].name);
    else if (s[i].begin > pos)
      st = vss_fail(VSS_ERR_FORMAT, "%s: tensor '%s': bytes [%zu, %zu) of the data "
                    "region before it belong to no tensor", f->path,
                    f->t[s[i].i].name, pos, s[i].begin);
    pos = s[i].end;
  }
  if (!st && pos != f->data_len)
    st = vss_fail(VSS_ERR_FORMAT, "%s: the last %zu bytes of the data region belong "
                  "to no tensor", f->path, f->data_len - pos);
  free(s);
  return st;
}

static vss_status parse(vss_st *f, size_t size)
{
  const char *path = f->path;
  if (size < 8)
    return vss_fail(VSS_ERR_FORMAT, "%s: %s, not a safetensors file", path,
                    size ? "shorter than the 8-byte header length" : "empty file");
  uint64_t hlen;
  memcpy(&hlen, f->buf, 8);
  vss_status hs = check_hlen(path, hlen, size);
  if (hs) return hs;
  const char *hdr = (const char *)f->buf + 8;
  f->data = f->buf + 8 + hlen;
  f->data_len = size - 8 - hlen;

  size_t bad = bad_text((const unsigned char *)hdr, hlen);
  if (bad < hlen)
    return vss_fail(VSS_ERR_FORMAT, "%s: header byte %zu (0x%02x) is not valid "
                    "UTF-8 JSON text", path, bad, (unsigned char)hdr[bad]);
  const char *end = NULL;
  f->root = cJSON_ParseWithLengthOpts(hdr, hlen, &end, 0);
  if (!f->root)
    return vss_fail(VSS_ERR_FORMAT, "%s: header is not valid JSON (near byte %zu)",
                    path, (size_t)(end - hdr));
  while (end < hdr + hlen && memchr(" \t\r\n", *end, 4)) end++;
  if (end != hdr + hlen)
    return vss_fail(VSS_ERR_FORMAT, "%s: header has text after the JSON (byte %zu)",
                    path, (size_t)(end - hdr));
  if (!cJSON_IsObject(f->root))
    return vss_fail(VSS_ERR_FORMAT, "%s: header is not a JSON object", path);
  const char *dup = dup_key(f->root);
  if (dup)
    return vss_fail(VSS_ERR_FORMAT, "%s: tensor '%s': duplicate key in the header",
                    path, dup);

  size_t n = (size_t)cJSON_GetArraySize(f->root);
  f->t = calloc(n ? n : 1, sizeof *f->t);
  if (!f->t) return vss_fail(VSS_ERR_NOMEM, "%s: out of memory", path);
  for (const cJSON *e = f->root->child; e; e = e->next) {
    vss_status s = strcmp(e->string, META) == 0 ? parse_meta(f, e)
                                                : parse_entry(f, e, &f->t[f->n++]);
    if (s) return s;
  }
  return check_coverage(f);
}

/* Opens a file's bytes: buf (size bytes, or NULL when mem is set) is the
 * file read by vss_st_open, taken over; mem is a caller's buffer to copy. */
static vss_status open_bytes(const char *path, unsigned char *buf, const void *mem,
                             size_t size, vss_st **out)
{
  vss_st *f = calloc(1, sizeof *f);
  if (!f || !(f->path = strdup(path))) {
    free(f);
    free(buf);
    return vss_fail(VSS_ERR_NOMEM, "%s: out of memory", path);
  }
  f->buf = buf;
  if (mem && (f->buf = malloc(size ? size : 1))) memcpy(f->buf, mem, size);
  vss_status s = f->buf ? parse(f, size)
                        : vss_fail(VSS_ERR_NOMEM, "%s: cannot allocate %zu bytes", path, size);
  if (s) {
    vss_st_close(f);
    return s;
  }
  *out = f;
  return VSS_OK;
}

vss_status vss_st_open(const char *path, vss_st **out)
{
  if (!out) return vss_fail(VSS_ERR_ARG, "vss_st_open: out is NULL");
  *out = NULL;
  if (!path) return vss_fail(VSS_ERR_ARG, "vss_st_open: path is NULL");
  unsigned char *buf = NULL;
  size_t size = 0;
  vss_status s = read_file(path, &buf, &size);
  return s ? s : open_bytes(path, buf, NULL, size, out);
}

vss_status vss_st_open_mem(const void *buf, size_t n, const char *name, vss_st **out)
{
  if (!out) return vss_fail(VSS_ERR_ARG, "vss_st_open_mem: out is NULL");
  *out = NULL;
  if (!buf && n) return vss_fail(VSS_ERR_ARG, "vss_st_open_mem: buf is NULL");
  return open_bytes(name ? name : "(memory)", NULL, buf ? buf : "", n, out);
}

void vss_st_close(vss_st *f)
{
  if (!f) return;
  cJSON_Delete(f->root);
  free(f->t);
  free(f->buf);
  free(f->path);
  free(f);
}

const char *vss_st_path(const vss_st *f) { return f->path; }
size_t vss_st_count(const vss_st *f) { return f->n; }

const struct vss_tensor *vss_st_at(const vss_st *f, size_t i)
{
  return i < f->n ? &f->t[i] : NULL;
}

const struct vss_tensor *vss_st_find(const vss_st *f, const char *name)
{
  for (size_t i = 0; i < f->n; i++)
    if (strcmp(f->t[i].name, name) == 0) return &f->t[i];
  return NULL;
}

const char *vss_st_meta(const vss_st *f, const char *key)
{
  const cJSON *v = f->meta ? cJSON_GetObjectItemCaseSensitive(f->meta, key) : NULL;
  return v ? v->valuestring : NULL;
}

/* ------------------------------------------------------------ conversion */

static float f16_to_f32(uint16_t h)
{
  uint32_t sign = (uint32_t)(h & 0x8000) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ff;
  uint32_t bits;
  float v;
  if (e == 0x1f) bits = sign | 0x7f800000 | m << 13; /* inf, nan */
  else if (e) bits = sign | (e + 112) << 23 | m << 13; /* rebias 15 -> 127 */
  else { /* zero or subnormal: m * 2^-24, exact in a float */
    v = (float)m * 0x1p-24f;
    return sign ? -v : v;
  }
  memcpy(&v, &bits, 4);
  return v;
}

/* Element i of raw little-endian data; exact for every dtype. */
static double elem(const unsigned char *p, enum vss_dtype dt, size_t i)
{
  uint16_t h;
  uint32_t b;
  float v;
  double d;
  switch (dt) {
  case VSS_F32: memcpy(&v, p + 4 * i, 4); return v;
  case VSS_F64: memcpy(&d, p + 8 * i, 8); return d;
  case VSS_F16: memcpy(&h, p + 2 * i, 2); return f16_to_f32(h);
  case VSS_BF16:
    memcpy(&h, p + 2 * i, 2);
    b = (uint32_t)h << 16;
    memcpy(&v, &b, 4);
    return v;
  }
  return 0;
}

/* Converts t to a new buffer of fp32 (osize 4) or fp64 (osize 8). */
static vss_status convert(const vss_st *f, const struct vss_tensor *t,
                          size_t osize, void **out)
{
  if (!out) return vss_fail(VSS_ERR_ARG, "vss_st_to_f32/f64: out is NULL");
  *out = NULL;
  if (!f || !t || t < f->t || t >= f->t + f->n)
    return vss_fail(VSS_ERR_ARG, "vss_st_to_f32/f64: tensor not from this file");
  int ovf = 0;
  size_t bytes = vss_mul_ovf(t->numel, osize, &ovf);
  void *p = ovf ? NULL : malloc(bytes ? bytes : 1);
  if (!p)
    return vss_fail(VSS_ERR_NOMEM, "%s: tensor '%s': cannot allocate %zu elements",
                    f->path, t->name, t->numel);
  if (dtype_size[t->dtype] == osize) /* F32 -> f32, F64 -> f64 */
    memcpy(p, t->data, bytes);
  else
    for (size_t i = 0; i < t->numel; i++) {
      double v = elem(t->data, t->dtype, i);
      if (osize == 4) ((float *)p)[i] = (float)v; /* F64: round to nearest */
      else ((double *)p)[i] = v;
    }
  *out = p;
  return VSS_OK;
}

vss_status vss_st_to_f32(const vss_st *f, const struct vss_tensor *t, float **out)
{
  return convert(f, t, sizeof **out, (void **)out);
}

vss_status vss_st_to_f64(const vss_st *f, const struct vss_tensor *t, double **out)
{
  return convert(f, t, sizeof **out, (void **)out);
}

/* --------------------------------------------------------------- writing */

static int write_all(int fd, const void *p, size_t n)
{
  const unsigned char *c = p;
  while (n) {
    ssize_t r = write(fd, c, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      if (r == 0) errno = EIO;
      return -1;
    }
    c += r;
    n -= (size_t)r;
  }
  return 0;
}

/* Why t cannot be written (NULL if it can); its byte size in *bytes. */
static const char *out_problem(const struct vss_st_out *t, size_t *bytes)
{
  if (!t->name || !*t->name || strcmp(t->name, META) == 0)
    return "name is empty or reserved";
  if (t->dtype != VSS_F32 && t->dtype != VSS_F64) return "dtype is not F32 or F64";
  if (t->ndim < 0 || t->ndim > VSS_MAX_DIMS || (t->ndim && !t->shape))
    return "bad ndim or shape";
  int ovf = 0;
  size_t numel = 1;
  for (int d = 0; d < t->ndim; d++) numel = vss_mul_ovf(numel, t->shape[d], &ovf);
  *bytes = vss_mul_ovf(numel, dtype_size[t->dtype], &ovf);
  if (ovf || *bytes > MAX_EXACT) return "too large";
  if (*bytes && !t->data) return "data is NULL";
  return NULL;
}

static int add_numbers(cJSON *obj, const char *key, const size_t *v, int n)
{
  cJSON *a = cJSON_AddArrayToObject(obj, key);
  for (int i = 0; a && i < n; i++)
    if (!cJSON_AddItemToArray(a, cJSON_CreateNumber((double)v[i]))) return 0;
  return a != NULL;
}

/* Fills h with the header of a file holding t[0..n) and meta, and the byte
 * size of each tensor in bytes[]. */
static vss_status fill_header(cJSON *h, const char *path, const struct vss_st_out *t,
                              size_t n, const char *const *meta, size_t *bytes)
{
  cJSON *o = NULL;
  if (meta && !(o = cJSON_AddObjectToObject(h, META))) goto nomem;
  for (size_t k = 0; meta && meta[k]; k += 2) {
    if (!meta[k + 1])
      return vss_fail(VSS_ERR_ARG, "%s: metadata key '%s' has no value", path, meta[k]);
    if (!cJSON_AddStringToObject(o, meta[k], meta[k + 1])) goto nomem;
  }
  size_t off = 0;
  for (size_t i = 0; i < n; i++) {
    const char *why = out_problem(&t[i], &bytes[i]);
    if (!why && cJSON_GetObjectItemCaseSensitive(h, t[i].name)) why = "duplicate name";
    if (!why && off + bytes[i] > MAX_EXACT) why = "file too large";
    if (why)
      return vss_fail(VSS_ERR_ARG, "%s: tensor '%s': %s", path,
                      t[i].name ? t[i].name : "(null)", why);
    size_t offs[2] = {off, off + bytes[i]};
    if (!(o = cJSON_AddObjectToObject(h, t[i].name)) ||
        !cJSON_AddStringToObject(o, "dtype", dtype_names[t[i].dtype]) ||
        !add_numbers(o, "shape", t[i].shape, t[i].ndim) ||
        !add_numbers(o, "data_offsets", offs, 2))
      goto nomem;
    off += bytes[i];
  }
  return VSS_OK;
nomem:
  return vss_fail(VSS_ERR_NOMEM, "%s: out of memory", path);
}

/* The padded header: 8-byte length, JSON text, spaces to a multiple of 8. */
static vss_status make_header(const char *path, const struct vss_st_out *t, size_t n,
                              const char *const *meta, size_t *bytes, char **hdr,
                              size_t *hdr_len)
{
  cJSON *h = cJSON_CreateObject();
  vss_status s = h ? fill_header(h, path, t, n, meta, bytes)
                   : vss_fail(VSS_ERR_NOMEM, "%s: out of memory", path);
  char *text = s ? NULL : cJSON_PrintUnformatted(h);
  cJSON_Delete(h);
  if (s) return s;
  size_t len = text ? strlen(text) : 0, padded = (len + 7) & ~(size_t)7;
  *hdr = text ? malloc(8 + padded) : NULL;
  if (!*hdr) s = vss_fail(VSS_ERR_NOMEM, "%s: out of memory", path);
  else if (bad_text((const unsigned char *)text, len) < len)
    s = vss_fail(VSS_ERR_ARG, "%s: a tensor name or metadata string is not valid "
                 "UTF-8", path);
  if (!s) {
    uint64_t le = padded;
    memcpy(*hdr, &le, 8);
    memcpy(*hdr + 8, text, len);
    memset(*hdr + 8 + len, ' ', padded - len);
    *hdr_len = 8 + padded;
  }
  free(text);
  return s;
}

/* Writes hdr and the tensors' data to tmp, syncs it and renames it to path;
 * 0 or an errno value. */
static int write_file(const char *tmp, const char *path, const char *hdr,
                      size_t hdr_len, const struct vss_st_out *t, size_t n,
                      const size_t *bytes)
{
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return errno;
  int ok = write_all(fd, hdr, hdr_len) == 0;
  for (size_t i = 0; ok && i < n; i++) ok = write_all(fd, t[i].data, bytes[i]) == 0;
  ok = ok && fsync(fd) == 0;
  int err = ok ? 0 : errno;
  if (close(fd) != 0 && ok) ok = 0, err = errno;
  if (ok && rename(tmp, path) != 0) ok = 0, err = errno;
  if (!ok) unlink(tmp);
  return ok ? 0 : err ? err : EIO;
}

vss_status vss_st_write(const char *path, const struct vss_st_out *t, size_t n,
                        const char *const *meta)
{
  if (!path || (n && !t))
    return vss_fail(VSS_ERR_ARG, "vss_st_write: path or tensors NULL");
  struct stat st; /* never replace a device, FIFO or folder by a file */
  if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
    return vss_fail(VSS_ERR_IO, "%s: cannot write: exists and is not a regular file",
                    path);
  char *hdr = NULL;
  size_t hdr_len = 0, tmp_len = strlen(path) + 32;
  char *tmp = malloc(tmp_len);
  size_t *bytes = malloc((n ? n : 1) * sizeof *bytes);
  vss_status s;
  if (!tmp || !bytes) s = vss_fail(VSS_ERR_NOMEM, "%s: out of memory", path);
  else if (!(s = make_header(path, t, n, meta, bytes, &hdr, &hdr_len))) {
    snprintf(tmp, tmp_len, "%s.tmp.%ld", path, (long)getpid());
    int err = write_file(tmp, path, hdr, hdr_len, t, n, bytes);
    if (err) s = vss_fail(VSS_ERR_IO, "%s: cannot write: %s", path, strerror(err));
  }
  free(tmp);
  free(hdr);
  free(bytes);
  return s;
}
