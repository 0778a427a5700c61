/* test_io.c - safetensors reading/writing, dtype conversion, block loading
 * and config inference, and one test per kind of bad input. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vss_test.h"

/* --------------------------------------------------------------- helpers */

/* Writes a safetensors file: the 8-byte header length (hlen, or the JSON's
 * length when hlen is -1), the JSON, then data_len bytes of data (data, or
 * zeros when data is NULL). */
static const char *st_file(const char *name, const char *json, long long hlen,
                           const void *data, size_t data_len)
{
  size_t jl = strlen(json), n = 8 + jl + data_len;
  unsigned char *b = calloc(1, n);
  ck_assert_ptr_nonnull(b);
  uint64_t le = hlen < 0 ? jl : (uint64_t)hlen;
  memcpy(b, &le, 8);
  memcpy(b + 8, json, jl);
  if (data) memcpy(b + 8 + jl, data, data_len);
  const char *path = vss_test_write(name, b, n);
  free(b);
  return path;
}

/* The last call failed with status want, and its message names the file
 * and (when not NULL) the tensor, on one line. */
static void assert_failed(const char *what, vss_status got, vss_status want,
                          const char *path, const char *tensor)
{
  const char *msg = vss_last_error();
  ck_assert_msg(got == want, "%s: status %s, expected %s (%s)", what,
                vss_status_str(got), vss_status_str(want), msg);
  ck_assert_msg(strstr(msg, path), "%s: message does not name the file: %s", what, msg);
  ck_assert_msg(!tensor || strstr(msg, tensor),
                "%s: message does not name '%s': %s", what, tensor, msg);
  ck_assert_msg(!strchr(msg, '\n'), "%s: message is not one line: %s", what, msg);
}

static int exists(const char *path)
{
  struct stat st;
  return stat(path, &st) == 0;
}

/* ---------------------------------------------------- round trip, dtypes */

START_TEST(write_read_round_trip)
{
  const float w[6] = {1.5f, -2.25f, 3e-38f, -0.0f, INFINITY, 1e30f};
  const double d[4] = {1.0 / 3.0, -1e-300, 1e300, -0.0};
  const double s = 42.125;
  const size_t sw[2] = {2, 3}, sd[1] = {4}, se[2] = {0, 3};
  const struct vss_st_out t[] = {
      {"layer.w", VSS_F32, 2, sw, w}, {"empty", VSS_F32, 2, se, NULL},
      {"d", VSS_F64, 1, sd, d},       {"scalar", VSS_F64, 0, NULL, &s},
  };
  const char *meta[] = {"case", "round trip", "\xc3\xbc" "ber", "caf\xc3\xa9", NULL};
  const char *path = vss_test_path("rt.safetensors");
  ck_assert_int_eq(vss_st_write(path, t, 4, meta), VSS_OK);

  vss_st *f;
  ck_assert_int_eq(vss_st_open(path, &f), VSS_OK);
  ck_assert_str_eq(vss_st_path(f), path);
  ck_assert_uint_eq(vss_st_count(f), 4);
  for (size_t i = 0; i < 4; i++) { /* in the order written */
    const struct vss_tensor *r = vss_st_at(f, i);
    ck_assert_str_eq(r->name, t[i].name);
    ck_assert_int_eq(r->dtype, t[i].dtype);
    ck_assert_int_eq(r->ndim, t[i].ndim);
    size_t numel = 1;
    for (int k = 0; k < r->ndim; k++) {
      ck_assert_uint_eq(r->shape[k], t[i].shape[k]);
      numel *= t[i].shape[k];
    }
    ck_assert_uint_eq(r->numel, numel);
    size_t es = t[i].dtype == VSS_F64 ? 8 : 4;
    ck_assert(numel == 0 || memcmp(r->data, t[i].data, numel * es) == 0);
    ck_assert_ptr_eq(vss_st_find(f, t[i].name), r);
  }
  ck_assert_ptr_null(vss_st_at(f, 4));
  ck_assert_ptr_null(vss_st_find(f, "nope"));
  ck_assert_str_eq(vss_st_meta(f, "case"), "round trip");
  ck_assert_str_eq(vss_st_meta(f, "\xc3\xbc" "ber"), "caf\xc3\xa9");
  ck_assert_ptr_null(vss_st_meta(f, "nope"));

  float *w32;
  double *w64, *d64;
  ck_assert_int_eq(vss_st_to_f32(f, vss_st_find(f, "layer.w"), &w32), VSS_OK);
  ck_assert_int_eq(vss_st_to_f64(f, vss_st_find(f, "layer.w"), &w64), VSS_OK);
  ck_assert_int_eq(vss_st_to_f64(f, vss_st_find(f, "d"), &d64), VSS_OK);
  ck_assert_mem_eq(w32, w, sizeof w);
  ck_assert_mem_eq(d64, d, sizeof d);
  for (int i = 0; i < 6; i++) ck_assert(memcmp(&(float){(float)w64[i]}, &w[i], 4) == 0);
  free(w32);
  free(w64);
  free(d64);
  ck_assert_int_eq(vss_st_to_f32(f, vss_st_find(f, "empty"), &w32), VSS_OK);
  ck_assert_ptr_nonnull(w32); /* an empty tensor still gives a buffer */
  free(w32);
  vss_st_close(f);

  /* the layout: header padded with spaces to a multiple of 8, data after */
  FILE *fp = fopen(path, "rb");
  unsigned char raw[1024];
  size_t n = fread(raw, 1, sizeof raw, fp);
  fclose(fp);
  uint64_t hlen;
  memcpy(&hlen, raw, 8);
  ck_assert_uint_eq(hlen % 8, 0);
  ck_assert_uint_eq(n, 8 + hlen + sizeof w + sizeof d + sizeof s);
  ck_assert_int_eq(raw[8], '{');
  ck_assert_mem_eq(raw + 8 + hlen, w, sizeof w);

  /* rewriting replaces the file and leaves no temporary behind */
  ck_assert_int_eq(vss_st_write(path, t + 2, 1, NULL), VSS_OK);
  ck_assert_int_eq(vss_st_open(path, &f), VSS_OK);
  ck_assert_uint_eq(vss_st_count(f), 1);
  ck_assert_ptr_null(vss_st_meta(f, "case"));
  vss_st_close(f);
  char tmp[600];
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
  ck_assert(!exists(tmp));
}
END_TEST

/* Bit patterns in, exact values out (F16 subnormals, infinities, NaNs and
 * signed zeros; BF16; F64 rounded to nearest even); the data region starts
 * at an odd address so every tensor is misaligned. */
START_TEST(convert_f16_bf16_f64)
{
  static const uint16_t h[] = {0x0000, 0x8000, 0x0001, 0x8001, 0x03ff, 0x0400, 0x3c00,
                               0xc000, 0x7bff, 0x3555, 0x7c00, 0xfc00, 0x7e00};
  static const float hf[] = {0.0f, -0.0f, 0x1p-24f, -0x1p-24f, 0x3ffp-24f, 0x1p-14f,
                             1.0f, -2.0f, 65504.0f, 0.333251953125f, INFINITY,
                             -INFINITY, NAN};
  static const uint16_t b[] = {0x3f80, 0xc049, 0x0001, 0x8000, 0x7f80, 0xff80, 0x7fc0};
  static const float bf[] = {1.0f, -3.140625f, 0x1p-133f, -0.0f, INFINITY, -INFINITY, NAN};
  static const double d[] = {1.0 / 3.0, 0.1, 1e300, -1e300, 1e-50, -1e-50,
                             1.0 + 0x1p-24, 1.0 + 3 * 0x1p-24, 0x1p-149, NAN};
  static const float df[] = {0.333333343f, 0.1f, INFINITY, -INFINITY, 0.0f, -0.0f,
                             1.0f, 1.0f + 0x1p-22f, 0x1p-149f, NAN};
  enum { NH = sizeof h / 2, NB = sizeof b / 2, ND = sizeof d / 8 };
  char json[512];
  int jl = snprintf(json, sizeof json,
                    "{\"h\":{\"dtype\":\"F16\",\"shape\":[%d],\"data_offsets\":[0,%d]},"
                    "\"b\":{\"dtype\":\"BF16\",\"shape\":[%d],\"data_offsets\":[%d,%d]},"
                    "\"d\":{\"dtype\":\"F64\",\"shape\":[%d],\"data_offsets\":[%d,%d]}}",
                    NH, 2 * NH, NB, 2 * NH, 2 * (NH + NB), ND, 2 * (NH + NB),
                    2 * (NH + NB) + 8 * ND);
  if (jl % 2 == 0) strcat(json, " ");
  unsigned char data[sizeof h + sizeof b + sizeof d];
  memcpy(data, h, sizeof h);
  memcpy(data + sizeof h, b, sizeof b);
  memcpy(data + sizeof h + sizeof b, d, sizeof d);
  vss_st *f;
  ck_assert_int_eq(vss_st_open(st_file("conv.safetensors", json, -1, data, sizeof data), &f),
                   VSS_OK);

  const struct { const char *name; const float *want; int n; } c[] = {
      {"h", hf, NH}, {"b", bf, NB}, {"d", df, ND}};
  for (int k = 0; k < 3; k++) {
    float *got;
    double *got64;
    const struct vss_tensor *t = vss_st_find(f, c[k].name);
    ck_assert_int_eq(vss_st_to_f32(f, t, &got), VSS_OK);
    ck_assert_int_eq(vss_st_to_f64(f, t, &got64), VSS_OK);
    for (int i = 0; i < c[k].n; i++) {
      float w = c[k].want[i];
      ck_assert_msg(isnan(w) ? isnan(got[i]) : memcmp(&got[i], &w, 4) == 0,
                    "%s[%d]: got %a, expected %a", c[k].name, i, got[i], w);
      double w64 = k == 2 ? d[i] : w; /* to_f64: exact */
      ck_assert_msg(isnan(w64) ? isnan(got64[i]) : memcmp(&got64[i], &w64, 8) == 0,
                    "%s[%d] as f64: got %a, expected %a", c[k].name, i, got64[i], w64);
    }
    free(got);
    free(got64);
  }
  vss_st_close(f);
}
END_TEST

START_TEST(zero_sized_tensors_are_valid)
{
  const char *path = st_file("zero.safetensors",
      "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
      "\"z\":{\"dtype\":\"F16\",\"shape\":[3,0],\"data_offsets\":[4,4]},"
      "\"b\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[4,8]}}", -1, NULL, 8);
  vss_st *f;
  ck_assert_int_eq(vss_st_open(path, &f), VSS_OK);
  ck_assert_uint_eq(vss_st_find(f, "z")->numel, 0);
  ck_assert_uint_eq(vss_st_find(f, "b")->numel, 1);
  ck_assert_int_eq(vss_st_find(f, "b")->ndim, 0);
  vss_st_close(f);
}
END_TEST

/* ------------------------------------------------------- writing failures */

START_TEST(write_to_unwritable_path_fails_cleanly)
{
  const float v[2] = {1, 2};
  const size_t shape[1] = {2};
  const struct vss_st_out t = {"v", VSS_F32, 1, shape, v};
  char tmp[600];

  const char *path = "/nonexistent-vss-dir/out.safetensors";
  assert_failed("no directory", vss_st_write(path, &t, 1, NULL), VSS_ERR_IO, path, NULL);
  ck_assert(!exists(path));

  /* renaming onto a non-empty directory fails after the data is written */
  const char *dir = vss_test_path("adir");
  ck_assert_int_eq(mkdir(dir, 0755), 0);
  vss_test_write("adir/keep", "x", 1);
  assert_failed("onto a directory", vss_st_write(dir, &t, 1, NULL), VSS_ERR_IO, dir, NULL);
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld", dir, (long)getpid());
  ck_assert_msg(!exists(tmp), "temporary %s left behind", tmp);
  ck_assert(exists(vss_test_path("adir/keep")));
}
END_TEST

START_TEST(write_rejects_bad_tensors)
{
  const float v[2] = {1, 2};
  const size_t shape[1] = {2};
  const struct vss_st_out f16 = {"h", VSS_F16, 1, shape, v};
  const struct vss_st_out dup[2] = {{"v", VSS_F32, 1, shape, v}, {"v", VSS_F32, 1, shape, v}};
  const struct vss_st_out res = {"__metadata__", VSS_F32, 1, shape, v};
  const struct vss_st_out bad = {"\xff", VSS_F32, 1, shape, v};
  const char *path = vss_test_path("never.safetensors");
  assert_failed("F16", vss_st_write(path, &f16, 1, NULL), VSS_ERR_ARG, path, "h");
  assert_failed("duplicate", vss_st_write(path, dup, 2, NULL), VSS_ERR_ARG, path, "v");
  assert_failed("reserved", vss_st_write(path, &res, 1, NULL), VSS_ERR_ARG, path, NULL);
  assert_failed("non-UTF-8", vss_st_write(path, &bad, 1, NULL), VSS_ERR_ARG, path, NULL);
  const char *meta[] = {"k", NULL};
  assert_failed("meta", vss_st_write(path, dup, 1, meta), VSS_ERR_ARG, path, "k");
  ck_assert(!exists(path));
}
END_TEST

/* ------------------------------------------------------ bad header table */

#define T1(rest) "{\"a\":{" rest "}}"
#define F32A(shape, offs) T1("\"dtype\":\"F32\",\"shape\":" shape ",\"data_offsets\":" offs)

static const struct bad_st {
  const char *name;
  const char *json;   /* NULL: the file does not exist */
  long long hlen;     /* -1: the JSON's length */
  size_t data;        /* bytes of data after the JSON */
  long long file_len; /* -1: all of it; else the file is cut to this length */
  vss_status st;
  const char *tensor; /* the message must name it (NULL: no tensor involved) */
} bad_st[] = {
    {"missing_file", NULL, -1, 0, -1, VSS_ERR_IO, NULL},
    {"empty_file", "", -1, 0, 0, VSS_ERR_FORMAT, NULL},
    {"shorter_than_8_bytes", "", -1, 0, 5, VSS_ERR_FORMAT, NULL},
    {"header_length_past_end", F32A("[1]", "[0,4]"), 1000, 4, -1, VSS_ERR_FORMAT, NULL},
    {"header_length_absurd", F32A("[1]", "[0,4]"), 1ll << 40, 4, -1, VSS_ERR_FORMAT, NULL},
    {"invalid_json", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1]", -1, 0, -1, VSS_ERR_FORMAT, NULL},
    {"text_after_json", "{} x", -1, 0, -1, VSS_ERR_FORMAT, NULL},
    {"header_not_object", "[1, 2]", -1, 0, -1, VSS_ERR_FORMAT, NULL},
    {"header_not_utf8", "{\"a\xff\":{}}", -1, 0, -1, VSS_ERR_FORMAT, NULL},
    {"header_overlong_utf8", "{\"a\xc0\xaf\":{}}", -1, 0, -1, VSS_ERR_FORMAT, NULL},
    {"header_control_byte", "{\"a\x01\":{}}", -1, 0, -1, VSS_ERR_FORMAT, NULL},
    {"entry_not_object", "{\"a\":3}", -1, 0, -1, VSS_ERR_FORMAT, "'a'"},
    {"unknown_dtype", T1("\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[0,4]"), -1, 4,
     -1, VSS_ERR_DTYPE, "'a'"},
    {"dtype_not_string", T1("\"dtype\":32,\"shape\":[1],\"data_offsets\":[0,4]"), -1, 4, -1,
     VSS_ERR_FORMAT, "'a'"},
    {"shape_negative", F32A("[-1]", "[0,4]"), -1, 4, -1, VSS_ERR_FORMAT, "'a'"},
    {"shape_fractional", F32A("[1.5]", "[0,4]"), -1, 4, -1, VSS_ERR_FORMAT, "'a'"},
    {"shape_string", F32A("[\"1\"]", "[0,4]"), -1, 4, -1, VSS_ERR_FORMAT, "'a'"},
    {"shape_not_array", F32A("1", "[0,4]"), -1, 4, -1, VSS_ERR_FORMAT, "'a'"},
    {"shape_huge_entry", F32A("[1e300]", "[0,4]"), -1, 4, -1, VSS_ERR_FORMAT, "'a'"},
    {"shape_too_many_dims", F32A("[1,1,1,1,1,1,1,1,1]", "[0,4]"), -1, 4, -1, VSS_ERR_SHAPE,
     "'a'"},
    {"numel_overflows", F32A("[4503599627370496,4096]", "[0,4]"), -1, 4, -1, VSS_ERR_NOMEM,
     "'a'"},
    {"bytes_overflow", T1("\"dtype\":\"F64\",\"shape\":[1125899906842624,2048],"
                          "\"data_offsets\":[0,8]"), -1, 8, -1, VSS_ERR_NOMEM, "'a'"},
    {"offsets_missing", T1("\"dtype\":\"F32\",\"shape\":[1]"), -1, 4, -1, VSS_ERR_FORMAT,
     "'a'"},
    {"offsets_one_entry", F32A("[1]", "[4]"), -1, 4, -1, VSS_ERR_FORMAT, "'a'"},
    {"offsets_fractional", F32A("[1]", "[0,4.5]"), -1, 4, -1, VSS_ERR_FORMAT, "'a'"},
    {"offsets_begin_after_end", F32A("[1]", "[8,4]"), -1, 8, -1, VSS_ERR_FORMAT, "'a'"},
    {"offsets_out_of_bounds", F32A("[2]", "[0,8]"), -1, 4, -1, VSS_ERR_FORMAT, "'a'"},
    {"offsets_not_shape_x_dtype", F32A("[3]", "[0,8]"), -1, 8, -1, VSS_ERR_FORMAT, "'a'"},
    {"overlapping", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                    "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
     -1, 12, -1, VSS_ERR_FORMAT, "'b'"},
    {"gap_between", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                    "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
     -1, 12, -1, VSS_ERR_FORMAT, "'b'"},
    {"trailing_data", F32A("[1]", "[0,4]"), -1, 8, -1, VSS_ERR_FORMAT, NULL},
    {"duplicate_key", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                      "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
     -1, 8, -1, VSS_ERR_FORMAT, "'a'"},
    {"duplicate_field", T1("\"dtype\":\"F32\",\"dtype\":\"F64\",\"shape\":[1],"
                           "\"data_offsets\":[0,4]"), -1, 4, -1, VSS_ERR_FORMAT, "'a'"},
    {"metadata_not_object", "{\"__metadata__\":[]}", -1, 0, -1, VSS_ERR_FORMAT,
     "__metadata__"},
    {"metadata_value_not_string", "{\"__metadata__\":{\"k\":1}}", -1, 0, -1, VSS_ERR_FORMAT,
     "'k'"},
};

/* Each case fails the same way through vss_st_open and vss_block_load. */
START_TEST(bad_file)
{
  const struct bad_st *c = &bad_st[_i];
  char fname[96];
  snprintf(fname, sizeof fname, "%s.safetensors", c->name);
  const char *path = vss_test_path(fname);
  if (c->json) {
    path = st_file(fname, c->json, c->hlen, NULL, c->data);
    if (c->file_len >= 0) ck_assert_int_eq(truncate(path, c->file_len), 0);
  }
  vss_st *f = (vss_st *)&f; /* must be reset to NULL */
  assert_failed(c->name, vss_st_open(path, &f), c->st, path, c->tensor);
  ck_assert_ptr_null(f);
  vss_block *b = (vss_block *)&b;
  assert_failed(c->name, vss_block_load(path, NULL, NULL, &b), c->st, path, c->tensor);
  ck_assert_ptr_null(b);
}
END_TEST

/* ----------------------------------------------------------- block files */

/* One tensor of a synthetic block file: its name in the file, its key in
 * current naming (NULL: not a block weight), the block it belongs to. */
struct tdef {
  char name[128];
  const char *key;
  int blk, ndim;
  size_t shape[4];
  float *data;
};
struct bfile { struct tdef t[64]; size_t n; };

static struct tdef *bf_add(struct bfile *b, const char *pfx, const char *name, int blk,
                           int ndim, size_t d0, size_t d1, size_t d2, size_t d3)
{
  ck_assert_uint_lt(b->n, 64);
  struct tdef *t = &b->t[b->n++];
  *t = (struct tdef){.key = NULL, .blk = blk, .ndim = ndim, .shape = {d0, d1, d2, d3}};
  snprintf(t->name, sizeof t->name, "%s%s", pfx, name);
  return t;
}

static struct tdef *bf_find(struct bfile *b, const char *name)
{
  for (size_t i = 0; i < b->n; i++)
    if (strcmp(b->t[i].name, name) == 0) return &b->t[i];
  ck_abort_msg("no tensor %s", name);
  return NULL;
}

static void bf_drop(struct bfile *b, const char *name)
{
  struct tdef *t = bf_find(b, name);
  memmove(t, t + 1, (size_t)(b->t + b->n - (t + 1)) * sizeof *t);
  b->n--;
}

/* Adds the tensors of one block with config c under pfx, in old v0 names
 * when old. */
static void bf_block(struct bfile *b, const char *pfx, int blk, int old,
                     const struct vss_block_config *c)
{
  const size_t C = c->C, Di = c->Di, N = c->N, R = c->R, Hd = c->mlp_hidden;
  const struct { const char *key; int ndim; size_t d[4]; int on; } w[] = {
      {"norm.weight", 1, {C}, 1},          {"norm.bias", 1, {C}, 1},
      {"op.in_proj.weight", 2, {c->has_z ? 2 * Di : Di, C}, 1},
      {"op.conv2d.weight", 4, {Di, 1, 3, 3}, 1}, {"op.conv2d.bias", 1, {Di}, c->conv_bias},
      {"op.x_proj_weight", 3, {4, R + 2 * N, Di}, 1},
      {"op.dt_projs_weight", 3, {4, Di, R}, 1}, {"op.dt_projs_bias", 2, {4, Di}, 1},
      {"op.A_logs", 2, {4 * Di, N}, 1},    {"op.Ds", 1, {4 * Di}, 1},
      {"op.out_norm.weight", 1, {Di}, 1},  {"op.out_norm.bias", 1, {Di}, 1},
      {"op.out_proj.weight", 2, {C, Di}, 1},
      {"norm2.weight", 1, {C}, Hd > 0},    {"norm2.bias", 1, {C}, Hd > 0},
      {"mlp.fc1.weight", 2, {Hd, C}, Hd > 0}, {"mlp.fc1.bias", 1, {Hd}, Hd > 0},
      {"mlp.fc2.weight", 2, {C, Hd}, Hd > 0}, {"mlp.fc2.bias", 1, {C}, Hd > 0},
  };
  for (size_t i = 0; i < sizeof w / sizeof *w; i++) {
    if (!w[i].on) continue;
    char name[96];
    const char *k = w[i].key;
    if (old && strncmp(k, "norm.", 5) == 0) snprintf(name, sizeof name, "ln_1.%s", k + 5);
    else if (old) snprintf(name, sizeof name, "self_attention.%s", k + 3);
    else snprintf(name, sizeof name, "%s", k);
    bf_add(b, pfx, name, blk, w[i].ndim, w[i].d[0], w[i].d[1], w[i].d[2], w[i].d[3])->key = k;
  }
}

static size_t numel(const struct tdef *t)
{
  size_t n = 1;
  for (int k = 0; k < t->ndim; k++) n *= t->shape[k];
  return n;
}

/* Fills every tensor with random data and writes the file (F64 when f64). */
static const char *bf_write(struct bfile *b, const char *fname, int f64, uint64_t seed)
{
  struct vss_rng rng;
  struct vss_st_out out[64];
  double *wide[64] = {NULL};
  vss_rng_seed(&rng, seed);
  for (size_t i = 0; i < b->n; i++) {
    struct tdef *t = &b->t[i];
    size_t n = numel(t);
    t->data = malloc((n ? n : 1) * sizeof *t->data);
    wide[i] = malloc((n ? n : 1) * sizeof *wide[i]);
    ck_assert(t->data && wide[i]);
    for (size_t j = 0; j < n; j++) wide[i][j] = t->data[j] = vss_rng_uniform(&rng, -0.5f, 0.5f);
    out[i] = (struct vss_st_out){t->name, f64 ? VSS_F64 : VSS_F32, t->ndim, t->shape,
                                 f64 ? (const void *)wide[i] : t->data};
  }
  const char *path = vss_test_path(fname);
  ck_assert_msg(vss_st_write(path, out, b->n, NULL) == VSS_OK, "%s", vss_last_error());
  for (size_t i = 0; i < b->n; i++) free(wide[i]);
  return path;
}

static void bf_free(struct bfile *b)
{
  for (size_t i = 0; i < b->n; i++) free(b->t[i].data);
}

/* The weights of block blk, from the data written. */
static struct vss_block_weights bf_weights(const struct bfile *b, int blk)
{
  static const char *const keys[] = {
      "norm.weight", "norm.bias", "op.in_proj.weight", "op.conv2d.weight",
      "op.conv2d.bias", "op.x_proj_weight", "op.dt_projs_weight", "op.dt_projs_bias",
      "op.A_logs", "op.Ds", "op.out_norm.weight", "op.out_norm.bias",
      "op.out_proj.weight", "norm2.weight", "norm2.bias", "mlp.fc1.weight",
      "mlp.fc1.bias", "mlp.fc2.weight", "mlp.fc2.bias"};
  struct vss_block_weights w = {0};
  const float **slot = (const float **)&w; /* the fields, in key order */
  ck_assert_uint_eq(sizeof w, sizeof keys / sizeof *keys * sizeof(float *));
  for (size_t i = 0; i < b->n; i++)
    for (size_t k = 0; b->t[i].blk == blk && b->t[i].key && k < sizeof keys / sizeof *keys; k++)
      if (strcmp(b->t[i].key, keys[k]) == 0) slot[k] = b->t[i].data;
  return w;
}

/* Loads the block and checks its config, and that it computes exactly
 * what vss_block_create makes of the same weights. */
static void check_load(const char *path, const char *prefix, const struct bfile *b,
                       int blk, const struct vss_block_config *want)
{
  vss_block *got = NULL, *ref = NULL;
  struct vss_block_opts opts = {"ref", 1};
  ck_assert_msg(vss_block_load(path, prefix, &opts, &got) == VSS_OK, "%s", vss_last_error());
  const struct vss_block_config *c = vss_block_get_config(got);
  ck_assert_uint_eq(c->C, want->C);
  ck_assert_uint_eq(c->Di, want->Di);
  ck_assert_uint_eq(c->N, want->N);
  ck_assert_uint_eq(c->R, want->R);
  ck_assert_uint_eq(c->mlp_hidden, want->mlp_hidden);
  ck_assert_int_eq(c->has_z, want->has_z);
  ck_assert_int_eq(c->conv_bias, want->conv_bias);
  ck_assert_float_eq(c->eps, 1e-5f);

  struct vss_block_weights w = bf_weights(b, blk);
  ck_assert_int_eq(vss_block_create(want, &w, &opts, &ref), VSS_OK);
  enum { B = 1, H = 3, W = 4 };
  size_t n = B * H * W * want->C;
  float *x = malloc(n * sizeof *x), *y1 = malloc(n * sizeof *x), *y2 = malloc(n * sizeof *x);
  struct vss_rng rng;
  vss_rng_seed(&rng, 7);
  for (size_t i = 0; i < n; i++) x[i] = vss_rng_normal(&rng);
  ck_assert_int_eq(vss_block_forward(got, B, H, W, x, y1), VSS_OK);
  ck_assert_int_eq(vss_block_forward(ref, B, H, W, x, y2), VSS_OK);
  vss_assert_equal("loaded vs created", y1, y2, n);
  free(x);
  free(y1);
  free(y2);
  vss_block_free(got);
  vss_block_free(ref);
}

static const struct vss_block_config v0_cfg = {8, 16, 4, 2, 0, 1, 1, 1e-5f, 0};
static const struct vss_block_config v05_cfg = {6, 6, 1, 1, 24, 0, 0, 1e-5f, 0};

START_TEST(load_v0_under_prefix_among_decoys)
{
  struct bfile b = {0};
  const struct vss_block_config other = {8, 8, 2, 1, 32, 0, 0, 1e-5f, 0};
  bf_block(&b, "layers.0.blocks.0.", 1, 0, &other);
  bf_block(&b, "layers.0.blocks.1.", 2, 0, &v0_cfg);
  bf_block(&b, "layers.0.blocks.10.", 3, 0, &v0_cfg); /* same shapes, other data */
  bf_add(&b, "", "layers.0.downsample.weight", 0, 2, 16, 8, 0, 0);
  bf_add(&b, "", "x", 0, 4, 1, 3, 4, 8);
  const char *path = bf_write(&b, "v0_prefix.safetensors", 0, 11);
  check_load(path, "layers.0.blocks.1.", &b, 2, &v0_cfg);
  check_load(path, "layers.0.blocks.1", &b, 2, &v0_cfg); /* not blocks.10 */
  check_load(path, "layers.0.blocks.10.", &b, 3, &v0_cfg);
  check_load(path, "layers.0.blocks.0.", &b, 1, &other);
  bf_free(&b);
}
END_TEST

START_TEST(load_v0_old_keys_f64)
{
  struct bfile b = {0};
  bf_block(&b, "", 1, 1, &v0_cfg);
  bf_add(&b, "", "x", 0, 4, 1, 3, 4, 8);
  bf_add(&b, "", "stages.norm", 0, 4, 1, 3, 4, 8);
  const char *path = bf_write(&b, "v0_old.safetensors", 1, 12);
  check_load(path, NULL, &b, 1, &v0_cfg);
  check_load(path, "", &b, 1, &v0_cfg);
  bf_free(&b);
}
END_TEST

START_TEST(load_v05_noz_with_mlp)
{
  struct bfile b = {0};
  bf_block(&b, "", 1, 0, &v05_cfg);
  bf_add(&b, "", "y", 0, 4, 1, 3, 4, 6);
  const char *path = bf_write(&b, "v05.safetensors", 0, 13);
  check_load(path, NULL, &b, 1, &v05_cfg);
  bf_free(&b);
}
END_TEST

/* -------------------------------------------------------- bad block table */

#define P "blk." /* the prefix the bad block files use */

static void drop_A_logs(struct bfile *b) { bf_drop(b, P "op.A_logs"); }
static void drop_fc2_bias(struct bfile *b) { bf_drop(b, P "mlp.fc2.bias"); }
static void drop_old_conv(struct bfile *b) { bf_drop(b, P "self_attention.conv2d.weight"); }
static void A_logs_rows(struct bfile *b) { bf_find(b, P "op.A_logs")->shape[0] -= 8; }
static void x_proj_cols(struct bfile *b) { bf_find(b, P "op.x_proj_weight")->shape[1]++; }
static void in_proj_rows(struct bfile *b) { bf_find(b, P "op.in_proj.weight")->shape[0] = 48; }
static void fc2_cols(struct bfile *b) { bf_find(b, P "mlp.fc2.weight")->shape[1] = 23; }
static void zero_N(struct bfile *b) { bf_find(b, P "op.A_logs")->shape[1] = 0; }
static void zero_C(struct bfile *b) { bf_find(b, P "norm.weight")->shape[0] = 0; }
static void zero_Ds(struct bfile *b) { bf_find(b, P "op.Ds")->shape[0] = 0; }
static void conv_rank(struct bfile *b)
{
  struct tdef *t = bf_find(b, P "op.conv2d.weight");
  t->ndim = 2;
  t->shape[1] = 9;
}
static void mixed(struct bfile *b)
{
  strcpy(bf_find(b, P "norm.weight")->name, P "ln_1.weight");
}
static void unknown_key(struct bfile *b) { bf_add(b, P, "op.x_proj_bias", 0, 2, 4, 8, 0, 0); }
static void no_block(struct bfile *b)
{
  b->n = 0;
  bf_add(b, P, "x", 0, 1, 4, 0, 0, 0);
}

static const struct bad_blk {
  const char *name;
  int v05, old;                  /* the base block: v0 or v05_noz, old names */
  void (*mutate)(struct bfile *);
  const char *prefix;            /* loaded with this prefix */
  vss_status st;
  const char *tensor;            /* the message must name it */
} bad_blk[] = {
    {"missing_A_logs", 0, 0, drop_A_logs, P, VSS_ERR_MISSING, P "op.A_logs"},
    {"missing_old_name", 0, 1, drop_old_conv, P, VSS_ERR_MISSING, P "self_attention.conv2d.weight"},
    {"missing_mlp_part", 1, 0, drop_fc2_bias, P, VSS_ERR_MISSING, P "mlp.fc2.bias"},
    {"A_logs_rows_not_4Di", 0, 0, A_logs_rows, P, VSS_ERR_SHAPE, P "op.A_logs"},
    {"x_proj_not_R_2N", 0, 0, x_proj_cols, P, VSS_ERR_SHAPE, P "op.x_proj_weight"},
    {"in_proj_rows_not_Di_2Di", 0, 0, in_proj_rows, P, VSS_ERR_SHAPE, P "op.in_proj.weight"},
    {"fc2_not_hidden", 1, 0, fc2_cols, P, VSS_ERR_SHAPE, P "mlp.fc2.weight"},
    {"wrong_rank", 0, 0, conv_rank, P, VSS_ERR_SHAPE, P "op.conv2d.weight"},
    {"zero_sized_N", 0, 0, zero_N, P, VSS_ERR_SHAPE, P "op.A_logs"},
    {"zero_sized_C", 1, 0, zero_C, P, VSS_ERR_SHAPE, P "norm.weight"},
    {"zero_sized_Ds", 0, 0, zero_Ds, P, VSS_ERR_SHAPE, P "op.Ds"},
    {"mixed_generations", 0, 0, mixed, P, VSS_ERR_FORMAT, P "ln_1.weight"},
    {"unknown_block_key", 0, 0, unknown_key, P, VSS_ERR_FORMAT, P "op.x_proj_bias"},
    {"prefix_matches_nothing", 0, 0, NULL, "layers.9", VSS_ERR_MISSING, "layers.9."},
    {"no_block_tensors", 0, 0, no_block, P, VSS_ERR_MISSING, P},
    {"no_prefix_given", 0, 0, NULL, NULL, VSS_ERR_MISSING, "under prefix '" P "'"},
};

START_TEST(bad_block)
{
  const struct bad_blk *c = &bad_blk[_i];
  struct bfile b = {0};
  bf_block(&b, P, 1, c->old, c->v05 ? &v05_cfg : &v0_cfg);
  if (c->mutate) c->mutate(&b);
  char fname[96];
  snprintf(fname, sizeof fname, "%s.safetensors", c->name);
  const char *path = bf_write(&b, fname, 0, 5);
  vss_block *blk = (vss_block *)&blk;
  assert_failed(c->name, vss_block_load(path, c->prefix, NULL, &blk), c->st, path, c->tensor);
  ck_assert_ptr_null(blk);
  bf_free(&b);
}
END_TEST

Suite *suite_io(void)
{
  Suite *s = suite_create("io");
  TCase *tc = tcase_create("safetensors");
  tcase_add_test(tc, write_read_round_trip);
  tcase_add_test(tc, convert_f16_bf16_f64);
  tcase_add_test(tc, zero_sized_tensors_are_valid);
  tcase_add_test(tc, write_to_unwritable_path_fails_cleanly);
  tcase_add_test(tc, write_rejects_bad_tensors);
  tcase_add_loop_test(tc, bad_file, 0, (int)(sizeof bad_st / sizeof *bad_st));
  suite_add_tcase(s, tc);

  tc = tcase_create("load");
  tcase_add_test(tc, load_v0_under_prefix_among_decoys);
  tcase_add_test(tc, load_v0_old_keys_f64);
  tcase_add_test(tc, load_v05_noz_with_mlp);
  tcase_add_loop_test(tc, bad_block, 0, (int)(sizeof bad_blk / sizeof *bad_blk));
  suite_add_tcase(s, tc);
  return s;
}
