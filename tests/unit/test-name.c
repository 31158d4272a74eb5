#include "name.h"
#include "nearby-error.h"

static void
test_valid (void)
{
  const char *good[] = { "myproj/fix-login",
                         "a",
                         "héllo/wörld",
                         "with space",
                         "x@y",
                         "a.b/c..d",
                         "0123456789012345678901234567890123456789012345678901234567890ab" };

  for (gsize i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autoptr (GError) error = NULL;

      g_assert_true (nearby_name_validate (good[i], &error));
      g_assert_no_error (error);
    }
}

static void
test_invalid (void)
{
  const struct
  {
    const char *name;
    const char *message_part;
  } bad[] = {
    { "", "empty" },
    { "0123456789012345678901234567890123456789012345678901234567890abc", "64 bytes" },
    { "tab\there", "control character" },
    { "bell\a", "control character" },
    { "c1\xc2\x85", "control character" },
    { "\xff\xfe", "UTF-8" },
    { "/leading", "empty, '.' or '..'" },
    { "trailing/", "empty, '.' or '..'" },
    { "a//b", "empty, '.' or '..'" },
    { "a/../b", "empty, '.' or '..'" },
    { "..", "empty, '.' or '..'" },
    { "./x", "empty, '.' or '..'" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;

      g_assert_false (nearby_name_validate (bad[i].name, &error));
      g_assert_error (error, NEARBY_ERROR, NEARBY_ERROR_INVALID);
      g_assert_nonnull (strstr (error->message, bad[i].message_part));
    }
}

static void
test_default (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *name = nearby_name_default ("myproj", "fix-login", &error);
  g_autofree char *too_long = NULL;

  g_assert_no_error (error);
  g_assert_cmpstr (name, ==, "myproj/fix-login");

  too_long = nearby_name_default ("a-rather-long-repository-name",
                                  "and-an-even-longer-branch-name-too", &error);
  g_assert_null (too_long);
  g_assert_error (error, NEARBY_ERROR, NEARBY_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "git nearby advertise NAME"));
}

static void
test_path_round_trip (void)
{
  const struct
  {
    const char *name;
    const char *path;
  } cases[] = {
    { "myproj/fix-login", "/myproj/fix-login" },
    { "with space", "/with%20space" },
    { "héllo", "/h%C3%A9llo" },
    { "a?b#c%d", "/a%3Fb%23c%25d" },
    { "x~y_z.w", "/x~y_z.w" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *path = nearby_name_to_path (cases[i].name);
      g_autoptr (GError) error = NULL;
      g_autofree char *back = NULL;

      g_assert_cmpstr (path, ==, cases[i].path);
      back = nearby_name_from_path (path + 1, strlen (path + 1), &error);
      g_assert_no_error (error);
      g_assert_cmpstr (back, ==, cases[i].name);
    }
}

static void
test_path_rejects (void)
{
  const char *bad[]
      = { "%", "%2", "%zz", "a%00b", "%2e%2e", "a/%2e%2e/b", "a//b", "..", ".git/../x", "x/" };

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *name = nearby_name_from_path (bad[i], strlen (bad[i]), &error);

      g_assert_null (name);
      g_assert_error (error, NEARBY_ERROR, NEARBY_ERROR_INVALID);
    }
}

static void
test_instance_name (void)
{
  g_autofree char *plain = nearby_instance_name ("myproj/main", "alice-laptop");
  g_autofree char *long_name = g_strnfill (63, 'n');
  g_autofree char *cut = nearby_instance_name (long_name, "alice-laptop");
  g_autofree char *utf8 = NULL;
  g_autofree char *utf8_cut = NULL;
  g_autofree char *huge_host = g_strnfill (100, 'h');
  g_autofree char *host_cut = nearby_instance_name ("x", huge_host);
  GString *many = g_string_new (NULL);

  g_assert_cmpstr (plain, ==, "myproj/main on alice-laptop");
  g_assert_cmpuint (strlen (cut), ==, 63);
  g_assert_true (g_str_has_suffix (cut, " on alice-laptop"));

  /* "é" is two bytes: the cut must not split one. */
  for (int i = 0; i < 31; i++)
    g_string_append (many, "é");
  utf8 = g_string_free (many, FALSE);
  utf8_cut = nearby_instance_name (utf8, "bob");
  g_assert_true (g_utf8_validate (utf8_cut, -1, NULL));
  g_assert_cmpuint (strlen (utf8_cut), <=, 63);
  g_assert_true (g_str_has_suffix (utf8_cut, " on bob"));
  g_assert_cmpuint (strlen (utf8_cut), ==, 63); /* 28 'é' fill the 56 bytes left exactly */
  g_free (utf8_cut);
  utf8_cut = nearby_instance_name (utf8, "bobx"); /* 55 bytes left: the 28th 'é' would split */
  g_assert_true (g_utf8_validate (utf8_cut, -1, NULL));
  g_assert_cmpuint (strlen (utf8_cut), ==, 62);

  g_assert_cmpuint (strlen (host_cut), <=, 63);
  g_assert_true (g_str_has_prefix (host_cut, "x on hhh"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/name/valid", test_valid);
  g_test_add_func ("/name/invalid", test_invalid);
  g_test_add_func ("/name/default", test_default);
  g_test_add_func ("/name/path-round-trip", test_path_round_trip);
  g_test_add_func ("/name/path-rejects", test_path_rejects);
  g_test_add_func ("/name/instance-name", test_instance_name);
  return g_test_run ();
}
