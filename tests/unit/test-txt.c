#include <string.h>

#include "nearby-error.h"
#include "txt-record.h"
#include "untrusted.h"

#define HEAD "0123456789abcdef0123456789abcdef01234567"
#define ROOT "89abcdef0123456789abcdef0123456789abcdef"

static void
test_round_trip (void)
{
  NearbyTxt in = { .name = "myproj/fix-login",
                   .path = "/myproj/fix-login",
                   .ref = "refs/heads/fix-login",
                   .head = HEAD,
                   .repo = ROOT };
  g_auto (NearbyTxt) out = { 0 };
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) strings = nearby_txt_encode (&in, &error);

  g_assert_no_error (error);
  g_assert_cmpstr (strings[0], ==, "txtvers=1");
  g_assert_cmpuint (g_strv_length (strings), ==, 6);
  for (char **s = strings; *s != NULL; s++)
    g_assert_cmpint (strchr (*s, '=') - *s, <=, 9);
  g_assert_true (nearby_txt_decode ((const char *const *) strings, &out, &error));
  g_assert_cmpstr (out.name, ==, in.name);
  g_assert_cmpstr (out.path, ==, in.path);
  g_assert_cmpstr (out.ref, ==, in.ref);
  g_assert_cmpstr (out.head, ==, HEAD);
  g_assert_cmpstr (out.repo, ==, ROOT);
}

#define KEY "sha256//1uWRwY8dDwsYf3kbt7l58Kk12uvyuUsKYg8zNqsNJmw="

static void
test_identity_keys (void)
{
  NearbyTxt in = { .name = "webapp/fix-login",
                   .path = "/webapp/fix-login",
                   .ref = "refs/heads/fix-login",
                   .head = HEAD,
                   .repo = ROOT,
                   .key = KEY,
                   .owner = "Alice Smith",
                   .subject = "Fix the login form" };
  g_auto (NearbyTxt) out = { 0 };
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) strings = nearby_txt_encode (&in, &error);
  gsize total = 0;

  g_assert_no_error (error);
  g_assert_cmpstr (strings[0], ==, "txtvers=1");
  for (char **s = strings; *s != NULL; s++)
    {
      g_assert_cmpint (strchr (*s, '=') - *s, <=, 9);
      total += 1 + strlen (*s);
    }
  g_assert_cmpuint (total, <, 400);
  g_assert_true (g_strv_contains ((const char *const *) strings, "key=" KEY));
  g_assert_true (g_strv_contains ((const char *const *) strings, "owner=Alice Smith"));
  g_assert_true (nearby_txt_decode ((const char *const *) strings, &out, &error));
  g_assert_cmpstr (out.key, ==, KEY);
  g_assert_cmpstr (out.owner, ==, "Alice Smith");
  g_assert_cmpstr (out.subject, ==, "Fix the login form");
  g_assert_cmpstr (out.head, ==, HEAD);
}

/* What an old client does with the new record: the v1 schema with keys it
 * does not know. And what we do with keys from the future. */
static void
test_unknown_keys (void)
{
  const char *future[]
      = { "txtvers=1", "name=a/b",  "path=/a/b", "ref=refs/heads/b", "key=" KEY, "colour=blue",
          "sig=abc",   "owner=Bob", NULL };
  const char *bad_values[]
      = { "txtvers=1", "name=a/b", "path=/a/b", "key=sha256//short=", "owner=\xff\xfe\x1b[31m",
          "subject=",  NULL };
  g_auto (NearbyTxt) out = { 0 };
  g_auto (NearbyTxt) bad = { 0 };
  g_autoptr (GError) error = NULL;

  g_assert_true (nearby_txt_decode (future, &out, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (out.key, ==, KEY);
  g_assert_cmpstr (out.owner, ==, "Bob");
  g_assert_null (out.subject);

  g_assert_true (nearby_txt_decode (bad_values, &bad, &error));
  g_assert_null (bad.key);
  g_assert_true (g_utf8_validate (bad.owner, -1, NULL));
  g_assert_null (bad.subject);
}

/* Owner and subject take only the room that is left, cut on a character
 * boundary; the key is never what gives way. */
static void
test_cut_to_fit (void)
{
  GString *long_owner = g_string_new ("x"); /* so that byte 48 is inside a character */
  g_autofree char *owner = NULL;
  g_autofree char *name = g_strnfill (63, 'n');
  g_autofree char *path = g_strnfill (189, 'x');
  g_autoptr (GError) error = NULL;

  for (int i = 0; i < 40; i++)
    g_string_append (long_owner, "\xc3\xa9"); /* é: two bytes */
  owner = g_string_free (long_owner, FALSE);
  path[0] = '/';
  {
    NearbyTxt in = { .name = "a/b",
                     .path = "/a/b",
                     .ref = "refs/heads/b",
                     .key = KEY,
                     .owner = owner,
                     .subject = owner };
    g_auto (GStrv) strings = nearby_txt_encode (&in, &error);
    g_auto (NearbyTxt) out = { 0 };

    g_assert_no_error (error);
    g_assert_true (nearby_txt_decode ((const char *const *) strings, &out, &error));
    g_assert_cmpuint (strlen (out.owner), <=, NEARBY_TXT_OWNER_MAX_BYTES);
    g_assert_cmpuint (strlen (out.owner), ==, 47);
    g_assert_true (g_utf8_validate (out.owner, -1, NULL));
    g_assert_true (g_str_has_prefix (owner, out.owner));
    g_assert_cmpuint (strlen (out.subject), ==, 71);
  }
  {
    /* The largest name there is: key kept, repo left out, owner cut. */
    NearbyTxt in = { .name = name,
                     .path = path,
                     .ref = "refs/heads/x",
                     .head = HEAD,
                     .repo = ROOT,
                     .key = KEY,
                     .owner = owner,
                     .subject = owner };
    g_auto (GStrv) strings = nearby_txt_encode (&in, &error);
    gsize total = 0;

    g_assert_no_error (error);
    for (char **s = strings; *s != NULL; s++)
      total += 1 + strlen (*s);
    g_assert_cmpuint (total, <, 400);
    g_assert_true (g_strv_contains ((const char *const *) strings, "key=" KEY));
    g_assert_true (g_strv_contains ((const char *const *) strings, "head=" HEAD));
    g_assert_false (g_strv_contains ((const char *const *) strings, "repo=" ROOT));
  }
}

static void
test_unborn (void)
{
  NearbyTxt in = { .name = "fresh/main", .path = "/fresh/main", .ref = "refs/heads/main" };
  g_auto (GStrv) strings = nearby_txt_encode (&in, NULL);

  g_assert_cmpuint (g_strv_length (strings), ==, 4);
  /* No key of an unborn branch's record may be head or repo, whatever its value. */
  for (char **s = strings; *s != NULL; s++)
    {
      g_assert_false (g_str_has_prefix (*s, "head="));
      g_assert_false (g_str_has_prefix (*s, "repo="));
    }
}

/* The largest record a valid name and ref can make still fits. */
static void
test_size_limit (void)
{
  g_autofree char *name = g_strnfill (63, 'n');
  g_autofree char *path_encoded = NULL;
  g_autofree char *long_branch = g_strnfill (300, 'b');
  g_autofree char *long_ref = g_strconcat ("refs/heads/", long_branch, NULL);
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) ok = NULL;
  g_auto (GStrv) too_big = NULL;
  NearbyTxt in = { 0 };

  /* 63 bytes of multi-byte characters, percent-encoded: 3 bytes each. */
  path_encoded = g_strnfill (189, 'x');
  path_encoded[0] = '/';
  in = (NearbyTxt){
    .name = name, .path = path_encoded, .ref = "refs/heads/x", .head = HEAD, .repo = ROOT
  };
  ok = nearby_txt_encode (&in, &error);
  g_assert_no_error (error);
  g_assert_nonnull (ok);

  in.ref = long_ref;
  too_big = nearby_txt_encode (&in, &error);
  g_assert_null (too_big);
  g_assert_error (error, NEARBY_ERROR, NEARBY_ERROR_TOO_LARGE);
}

static void
test_decode_rejects (void)
{
  const char *no_version[] = { "name=a", "path=/a", NULL };
  const char *other_version[] = { "txtvers=2", "name=a", "path=/a", NULL };
  const char *no_path[] = { "txtvers=1", "name=a", NULL };
  const char *bad_name[] = { "txtvers=1", "name=a//b", "path=/a", NULL };
  const char *invisible[]
      = { "txtvers=1", "name=fix\u200B-login", "path=/fix%E2%80%8B-login", NULL };
  const char *bidi[] = { "txtvers=1", "name=a\u202Eb", "path=/a%E2%80%AEb", NULL };
  /* The path must be the name's, exactly. */
  const char *other_path[] = { "txtvers=1", "name=x", "path=/admin/shutdown", NULL };
  const char *query[] = { "txtvers=1", "name=x", "path=/x?now=1", NULL };
  const char *fragment[] = { "txtvers=1", "name=x", "path=/x#", NULL };
  const char *dotdot[] = { "txtvers=1", "name=x", "path=/x/../y", NULL };
  const char *other_case[] = { "txtvers=1", "name=a b", "path=/a%2520b", NULL };
  const char *unencoded[] = { "txtvers=1", "name=a b", "path=/a b", NULL };
  const char *lower_hex[] = { "txtvers=1", "name=a b", "path=/a%2fb", NULL };
  const char *esc_path[] = { "txtvers=1", "name=x", "path=/x\x1b[2J", NULL };
  const char *const *bad[]
      = { no_version, other_version, no_path, bad_name,   invisible, bidi,      other_path,
          query,      fragment,      dotdot,  other_case, unencoded, lower_hex, esc_path };

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_auto (NearbyTxt) out = { 0 };
      g_autoptr (GError) error = NULL;

      g_assert_false (nearby_txt_decode (bad[i], &out, &error));
      g_assert_error (error, NEARBY_ERROR, NEARBY_ERROR_INVALID);
      g_assert_null (out.name);
    }
}

static void
test_decode_path_message (void)
{
  const char *strings[] = { "txtvers=1", "name=x", "path=/x\x1b[2J\r\n", NULL };
  g_auto (NearbyTxt) out = { 0 };
  g_autoptr (GError) error = NULL;

  g_assert_false (nearby_txt_decode (strings, &out, &error));
  g_assert_cmpstr (error->message, ==,
                   "TXT record of 'x' has path '/x\\x1B[2J\\x0D\\x0A', not '/x'");
}

/* A ref from the network is shown; it comes out of the decoder as UTF-8. */
static void
test_decode_ref_utf8 (void)
{
  const char *strings[] = { "txtvers=1", "name=x", "path=/x", "ref=refs/heads/\xff\xc3(", NULL };
  g_auto (NearbyTxt) out = { 0 };
  g_autoptr (GError) error = NULL;

  g_assert_true (nearby_txt_decode (strings, &out, &error));
  g_assert_true (g_utf8_validate (out.ref, -1, NULL));
  g_assert_cmpstr (out.ref, ==, "refs/heads/\xef\xbf\xbd\xef\xbf\xbd(");
}

static void
test_escape (void)
{
  const struct
  {
    const char *in, *out;
  } cases[] = {
    { "plain", "plain" },
    { "héllo wörld", "héllo wörld" },
    { "\x1b[2J\x1b]0;title\x07", "\\x1B[2J\\x1B]0;title\\x07" },
    { "row\r\nfake", "row\\x0D\\x0Afake" },
    { "tab\there", "tab\\x09here" },
    { "del\x7f", "del\\x7F" },
    { "c1\xc2\x9b"
      "2J",
      "c1\\x9B2J" }, /* U+009B, the one-byte CSI */
    { "bidi\u202Eevil", "bidi\\u202Eevil" },
    { "zero\u200Bwidth", "zero\\u200Bwidth" },
    { "tag\U000E0041", "tag\\U000E0041" },
    { "bad\xff\xfe", "bad\xef\xbf\xbd\xef\xbf\xbd" },
    { "cut\xe2\x80", "cut\xef\xbf\xbd\xef\xbf\xbd" },
    { "", "" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *escaped = nearby_untrusted_escape (cases[i].in);

      g_assert_cmpstr (escaped, ==, cases[i].out);
      g_assert_true (g_utf8_validate (escaped, -1, NULL));
    }
  {
    g_autofree char *null = nearby_untrusted_escape (NULL);

    g_assert_cmpstr (null, ==, "");
  }
}

static void
test_utf8 (void)
{
  g_autofree char *fine = nearby_untrusted_utf8 ("héllo\x1b");
  g_autofree char *bad = nearby_untrusted_utf8 ("a\xc3");

  g_assert_cmpstr (fine, ==, "héllo\x1b"); /* escaping is for terminals, not here */
  g_assert_cmpstr (bad, ==, "a\xef\xbf\xbd");
  g_assert_null (nearby_untrusted_utf8 (NULL));
}

/* The head's commit time: kept when it is a number of seconds, dropped
 * otherwise (it is only shown, as an age). */
static void
test_date (void)
{
  NearbyTxt in = { .name = "a/b",
                   .path = "/a/b",
                   .ref = "refs/heads/b",
                   .head = HEAD,
                   .repo = ROOT,
                   .date = "1764680000" };
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) strings = nearby_txt_encode (&in, &error);
  g_auto (NearbyTxt) out = { 0 };
  const char *bad[] = { "", "-5", "12a", "1234567890123", " 12", "0x10" };

  g_assert_no_error (error);
  g_assert_true (g_strv_contains ((const char *const *) strings, "date=1764680000"));
  g_assert_true (nearby_txt_decode ((const char *const *) strings, &out, &error));
  g_assert_cmpstr (out.date, ==, "1764680000");
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autofree char *pair = g_strconcat ("date=", bad[i], NULL);
      const char *record[] = { "txtvers=1", "name=a/b", "path=/a/b", pair, NULL };
      g_auto (NearbyTxt) decoded = { 0 };

      g_assert_true (nearby_txt_decode (record, &decoded, &error));
      g_assert_null (decoded.date);
    }
}

static void
test_decode_lenient (void)
{
  const char *strings[]
      = { "TXTVERS=1", "name=a", "name=second", "path=/a", "head=NOTANID", "x=y", "flag", NULL };
  g_auto (NearbyTxt) out = { 0 };
  g_autoptr (GError) error = NULL;

  g_assert_true (nearby_txt_decode (strings, &out, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (out.name, ==, "a");
  g_assert_null (out.head);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/txt/round-trip", test_round_trip);
  g_test_add_func ("/txt/date", test_date);
  g_test_add_func ("/txt/identity-keys", test_identity_keys);
  g_test_add_func ("/txt/unknown-keys", test_unknown_keys);
  g_test_add_func ("/txt/cut-to-fit", test_cut_to_fit);
  g_test_add_func ("/txt/unborn", test_unborn);
  g_test_add_func ("/txt/size-limit", test_size_limit);
  g_test_add_func ("/txt/decode-rejects", test_decode_rejects);
  g_test_add_func ("/txt/decode-lenient", test_decode_lenient);
  g_test_add_func ("/txt/decode-path-message", test_decode_path_message);
  g_test_add_func ("/txt/decode-ref-utf8", test_decode_ref_utf8);
  g_test_add_func ("/txt/escape", test_escape);
  g_test_add_func ("/txt/utf8", test_utf8);
  return g_test_run ();
}
