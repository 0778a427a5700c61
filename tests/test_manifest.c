/* test_manifest.c - golden/MANIFEST matches golden/ (DESIGN §7): it parses,
 * every listed file exists with the listed SHA-256, and every .safetensors
 * file in golden/ is listed.  SHA-256 (FIPS 180-4) is implemented here,
 * checked on the standard's "abc" and two-block vectors.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vss_test.h"

#define GOLDEN_DIR "golden"
#define MANIFEST GOLDEN_DIR "/MANIFEST"
#define MAX_CASES 256

/* ------------------------------------------------------------ SHA-256 */

struct sha256 {
  uint32_t h[8];
  uint8_t buf[64];
  size_t nbuf;
  uint64_t len; /* bytes */
};

static const uint32_t K256[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
    0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
    0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
    0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
    0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
    0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
    0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2};

static uint32_t ror(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

static void sha256_block(struct sha256 *s, const uint8_t *p)
{
  uint32_t w[64], v[8];
  for (int i = 0; i < 16; i++)
    w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
           (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
  for (int i = 16; i < 64; i++) {
    uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
    uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  memcpy(v, s->h, sizeof v);
  for (int i = 0; i < 64; i++) {
    uint32_t e = v[4], a = v[0];
    uint32_t t1 = v[7] + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & v[5]) ^ (~e & v[6])) +
                  K256[i] + w[i];
    uint32_t t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & v[1]) ^ (a & v[2]) ^ (v[1] & v[2]));
    memmove(v + 1, v, 7 * sizeof *v);
    v[4] += t1;
    v[0] = t1 + t2;
  }
  for (int i = 0; i < 8; i++) s->h[i] += v[i];
}

static void sha256_init(struct sha256 *s)
{
  static const uint32_t h0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  memcpy(s->h, h0, sizeof h0);
  s->nbuf = 0;
  s->len = 0;
}

static void sha256_update(struct sha256 *s, const void *data, size_t n)
{
  const uint8_t *p = data;
  s->len += n;
  while (n) {
    size_t k = 64 - s->nbuf < n ? 64 - s->nbuf : n;
    memcpy(s->buf + s->nbuf, p, k);
    s->nbuf += k, p += k, n -= k;
    if (s->nbuf == 64) { sha256_block(s, s->buf); s->nbuf = 0; }
  }
}

/* Final digest as 64 lowercase hex digits + NUL. */
static void sha256_hex(struct sha256 *s, char out[65])
{
  const uint64_t bits = s->len * 8;
  uint8_t pad[72] = {0x80};
  size_t npad = (s->nbuf < 56 ? 56 : 120) - s->nbuf;
  for (int i = 0; i < 8; i++) pad[npad + i] = (uint8_t)(bits >> (56 - 8 * i));
  sha256_update(s, pad, npad + 8);
  for (int i = 0; i < 8; i++) sprintf(out + 8 * i, "%08x", s->h[i]);
}

/* SHA-256 of a whole file, or "" if it cannot be read. */
static void sha256_file(const char *path, char out[65])
{
  struct sha256 s;
  uint8_t buf[1 << 16];
  size_t n;
  FILE *f = fopen(path, "rb");
  out[0] = 0;
  if (!f) return;
  sha256_init(&s);
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) sha256_update(&s, buf, n);
  if (!ferror(f)) sha256_hex(&s, out);
  fclose(f);
}

static void sha256_str(const char *msg, char out[65])
{
  struct sha256 s;
  sha256_init(&s);
  sha256_update(&s, msg, strlen(msg));
  sha256_hex(&s, out);
}

START_TEST(sha256_vectors)
{
  char hex[65];
  /* FIPS 180-4 examples (one block, two blocks) and the empty message */
  sha256_str("abc", hex);
  ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  sha256_str("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", hex);
  ck_assert_str_eq(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  sha256_str("", hex);
  ck_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  /* split updates across the block boundary give the same digest */
  struct sha256 s;
  sha256_init(&s);
  sha256_update(&s, "abcdbcdecdefdefgefghfghighijhijk", 32);
  sha256_update(&s, "ijkljklmklmnlmnomnopnopq", 24);
  sha256_hex(&s, hex);
  ck_assert_str_eq(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}
END_TEST

/* ----------------------------------------------------------- MANIFEST */

struct entry {
  char cas[64], file[128], sha[65];
};

/* Parses MANIFEST: '#' lines are comments, others are tab separated with
 * at least case, file, sha256.  Returns the number of entries. */
static int read_manifest(struct entry *e, int max)
{
  FILE *f = fopen(MANIFEST, "r");
  ck_assert_msg(f != NULL, "%s: cannot open (run `make golden`)", MANIFEST);
  char line[4096];
  int n = 0, lineno = 0;
  while (fgets(line, sizeof line, f)) {
    lineno++;
    ck_assert_msg(strchr(line, '\n') != NULL, "%s:%d: line too long", MANIFEST, lineno);
    if (line[0] == '#' || line[0] == '\n') continue;
    ck_assert_msg(n < max, "%s: more than %d cases", MANIFEST, max);
    char *save, *c = strtok_r(line, "\t\n", &save), *fl = strtok_r(NULL, "\t\n", &save),
                *sh = strtok_r(NULL, "\t\n", &save);
    ck_assert_msg(c && fl && sh, "%s:%d: fewer than 3 tab-separated fields", MANIFEST, lineno);
    ck_assert_msg(strlen(sh) == 64 && strspn(sh, "0123456789abcdef") == 64,
                  "%s:%d: sha256 '%s' is not 64 lowercase hex digits", MANIFEST, lineno, sh);
    ck_assert_msg(!strchr(fl, '/') && strlen(fl) < sizeof e->file,
                  "%s:%d: file '%s' must be a plain name in golden/", MANIFEST, lineno, fl);
    snprintf(e[n].cas, sizeof e[n].cas, "%s", c);
    snprintf(e[n].file, sizeof e[n].file, "%s", fl);
    snprintf(e[n].sha, sizeof e[n].sha, "%s", sh);
    for (int i = 0; i < n; i++)
      ck_assert_msg(strcmp(e[i].file, fl) && strcmp(e[i].cas, c),
                    "%s:%d: case %s / file %s listed twice", MANIFEST, lineno, c, fl);
    n++;
  }
  fclose(f);
  return n;
}

START_TEST(manifest_parses)
{
  static struct entry e[MAX_CASES];
  int n = read_manifest(e, MAX_CASES);
  ck_assert_msg(n > 0, "%s lists no cases", MANIFEST);
  FILE *f = fopen(MANIFEST, "r");
  char head[4096];
  ck_assert(fgets(head, sizeof head, f) != NULL);
  fclose(f);
  ck_assert_msg(!strncmp(head, "#case\tfile\tsha256", 17),
                "%s: the header must start '#case<TAB>file<TAB>sha256', got '%.40s'",
                MANIFEST, head);
}
END_TEST

START_TEST(manifest_files_match)
{
  static struct entry e[MAX_CASES];
  int n = read_manifest(e, MAX_CASES), bad = 0;
  for (int i = 0; i < n; i++) {
    char path[300], hex[65];
    snprintf(path, sizeof path, "%s/%s", GOLDEN_DIR, e[i].file);
    sha256_file(path, hex);
    if (!hex[0]) {
      fprintf(stderr, "  %s: listed in MANIFEST but cannot be read\n", path);
      bad++;
    } else if (strcmp(hex, e[i].sha)) {
      fprintf(stderr, "  %s: sha256 %s, MANIFEST says %s\n", path, hex, e[i].sha);
      bad++;
    }
  }
  ck_assert_msg(!bad, "%d of %d golden files missing or changed (regenerate with "
                      "`make golden` and commit MANIFEST with them)", bad, n);
}
END_TEST

static int is_safetensors(const struct dirent *d)
{
  size_t n = strlen(d->d_name);
  return n > 12 && !strcmp(d->d_name + n - 12, ".safetensors");
}

START_TEST(every_file_listed)
{
  static struct entry e[MAX_CASES];
  int n = read_manifest(e, MAX_CASES), unlisted = 0;
  struct dirent **ents;
  int m = scandir(GOLDEN_DIR, &ents, is_safetensors, alphasort);
  ck_assert_msg(m >= 0, "%s: cannot read the folder", GOLDEN_DIR);
  for (int j = 0; j < m; j++) {
    int found = 0;
    for (int i = 0; i < n && !found; i++) found = !strcmp(e[i].file, ents[j]->d_name);
    if (!found) {
      fprintf(stderr, "  %s/%s: not listed in MANIFEST\n", GOLDEN_DIR, ents[j]->d_name);
      unlisted++;
    }
    free(ents[j]);
  }
  free(ents);
  ck_assert_msg(!unlisted, "%d golden file(s) not in MANIFEST", unlisted);
  ck_assert_msg(m == n, "MANIFEST lists %d files, golden/ holds %d", n, m);
}
END_TEST

Suite *suite_manifest(void)
{
  Suite *s = suite_create("manifest");
  TCase *tc = tcase_create("manifest");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, sha256_vectors);
  tcase_add_test(tc, manifest_parses);
  tcase_add_test(tc, manifest_files_match);
  tcase_add_test(tc, every_file_listed);
  suite_add_tcase(s, tc);
  return s;
}
