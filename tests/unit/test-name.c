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
                         "日本語/ブランチ",
                         "emoji-\U0001F600",
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
    /* Look-alikes: each would show exactly like the name without it. */
    { "myproj/fix\u200B-login", "invisible or text-direction character (U+200B)" },
    { "fix\u200C-login", "(U+200C)" },
    { "fix\u200D-login", "(U+200D)" },
    { "fix\u200E-login", "(U+200E)" },
    { "fix\u200F-login", "(U+200F)" },
    { "nigol-xif\u202E", "(U+202E)" },
    { "\u202Aa", "(U+202A)" },
    { "a\u2060b", "(U+2060)" },
    { "a\u2064b", "(U+2064)" },
    { "a\u2066b\u2069", "(U+2066)" },
    { "\uFEFFbom", "(U+FEFF)" },
    { "soft\u00ADhyphen", "(U+00AD)" },
    { "arabic\u061Cmark", "(U+061C)" },
    { "line\u2028sep", "(U+2028)" },
    { "a\u034Fb", "(U+034F)" },
    { "hangul\u3164filler", "(U+3164)" },
    { "vs\uFE0Fsixteen", "(U+FE0F)" },
    { "tag\U000E0041", "(U+E0041)" },
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

/* A name that came from the network is shown escaped in the message. */
static void
test_invalid_shown_escaped (void)
{
  g_autoptr (GError) error = NULL;

  g_assert_false (nearby_name_validate ("evil\x1b]0;owned\x07/x", &error));
  g_assert_cmpstr (error->message, ==,
                   "name 'evil\\x1B]0;owned\\x07/x' contains a control character");
  g_clear_error (&error);
  g_assert_false (nearby_name_validate ("a//\u202Eb", &error));
  g_assert_null (strchr (error->message, 0xe2)); /* no raw U+202E (e2 80 ae) */
  g_assert_nonnull (strstr (error->message, "\\u202E"));
}

static void
test_instance_may_be (void)
{
  g_autofree char *prefix = g_strnfill (50, 'p');
  g_autofree char *long_name = g_strconcat (prefix, "/fix-login", NULL);
  g_autofree char *cut = nearby_instance_name (long_name, "alice");

  g_assert_true (nearby_instance_may_be ("fix-login on alice", "fix-login"));
  g_assert_true (nearby_instance_may_be ("myproj/fix-login on alice", "fix-login"));
  g_assert_true (nearby_instance_may_be ("myproj/fix-login on alice #2", "fix-login"));
  g_assert_true (nearby_instance_may_be ("myproj/fix-login on alice", "myproj/fix-login"));
  /* A name with " on " in it. */
  g_assert_true (nearby_instance_may_be ("carry on wayward on bob", "carry on wayward"));
  g_assert_true (nearby_instance_may_be ("x/carry on wayward on bob", "carry on wayward"));
  /* Cut instance names cannot be told apart: they may be anything. */
  g_assert_cmpuint (strlen (cut), ==, 63);
  g_assert_true (nearby_instance_may_be (cut, "fix-login"));

  g_assert_false (nearby_instance_may_be ("flood-0001 on mallory", "fix-login"));
  g_assert_false (nearby_instance_may_be ("fix-login2 on alice", "fix-login"));
  g_assert_false (nearby_instance_may_be ("myproj/prefix-login on alice", "fix-login"));
  g_assert_false (nearby_instance_may_be ("fix-login", "fix-login"));
  g_assert_false (nearby_instance_may_be ("fix-login/x on alice", "fix-login"));
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
  g_test_add_func ("/name/invalid-shown-escaped", test_invalid_shown_escaped);
  g_test_add_func ("/name/instance-may-be", test_instance_may_be);
  return g_test_run ();
}
