#include <string.h>

#include "nearby-error.h"
#include "txt-record.h"

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

static void
test_unborn (void)
{
  NearbyTxt in = { .name = "fresh/main", .path = "/fresh/main", .ref = "refs/heads/main" };
  g_auto (GStrv) strings = nearby_txt_encode (&in, NULL);

  g_assert_cmpuint (g_strv_length (strings), ==, 4);
  g_assert_false (g_strv_contains ((const char *const *) strings, "head="));
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
  const char *const *bad[] = { no_version, other_version, no_path, bad_name };

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
  g_test_add_func ("/txt/unborn", test_unborn);
  g_test_add_func ("/txt/size-limit", test_size_limit);
  g_test_add_func ("/txt/decode-rejects", test_decode_rejects);
  g_test_add_func ("/txt/decode-lenient", test_decode_lenient);
  return g_test_run ();
}
