/* Unit tests: the names shell completion offers (client/complete.c). */
#include <glib/gstdio.h>
#include <sys/stat.h>
#include <utime.h>

#include "complete.h"

static char *
joined (GStrv words)
{
  return g_strjoinv (",", words);
}

/* What completing @prefix offers from @seen, comma-separated. */
static void
assert_offers (const char *const *seen, gsize n_seen, const char *prefix, const char *expected)
{
  g_auto (GStrv) names = nearby_complete_offers (seen, n_seen, prefix);
  g_autofree char *all = joined (names);

  g_assert_cmpstr (all, ==, expected);
}

static void
test_two_hosts (void)
{
  /* As browse finds them: one line per service. */
  const char *seen[] = { "myproj/fix-login\talice", "myproj/fix-login\tcarol", "alpha/main\tcarol",
                         "myproj/main\talice", "alpha/main\tcarol" };
  const struct
  {
    const char *prefix;
    const char *expected;
  } cases[] = {
    { NULL, "alpha/main,myproj/fix-login,myproj/main" },
    { "myproj/fix-login", "myproj/fix-login" },
    /* Who advertises it, once NAME@ is typed. */
    { "myproj/fix-login@", "myproj/fix-login@alice,myproj/fix-login@carol" },
    { "myproj/fix-login@c", "myproj/fix-login@carol" },
    { "myproj/fix-login@carol", "myproj/fix-login@carol" },
    { "myproj/fix-login@x", "" },
    { "alpha/main@", "alpha/main@carol" },
    { "myproj/fix@", "" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    assert_offers (seen, G_N_ELEMENTS (seen), cases[i].prefix, cases[i].expected);
}

static void
test_prefix (void)
{
  const char *seen[]
      = { "myproj/main", "myproj/fix-login", "alpha/main", "myproj/fix-login", NULL, "my" };
  const struct
  {
    const char *prefix;
    const char *expected;
  } cases[] = {
    { "", "alpha/main,my,myproj/fix-login,myproj/main" },
    { "my", "my,myproj/fix-login,myproj/main" },
    { "myproj/f", "myproj/fix-login" },
    { "myproj/fix-login", "myproj/fix-login" },
    { "myproj/fix-login-", "" },
    { "MY", "" },
    { "main", "" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    assert_offers (seen, G_N_ELEMENTS (seen), cases[i].prefix, cases[i].expected);
}

static void
test_hostile (void)
{
  /* Each would do something, or be more than one word, on a command line. */
  const char *hostile[] = {
    "$(touch pwned)",
    "`touch pwned`",
    "a;touch pwned",
    "a&&b",
    "a|b",
    "a b",
    "a\tb",
    "a\nb",
    "\x1b]0;title\a",
    "x\rfake",
    "a\u00a0b",
    "a\u3000b",
    "rtl\u202eevil",
    "zero\u200bwidth",
    "-rf",
    "--upload-pack=x",
    "x=y",
    "a'b",
    "a\"b",
    "a\\b",
    "~root",
    "*",
    "a?",
    "[ab]",
    "{a,b}",
    "!!",
    "#c",
    "a>b",
    "a<b",
    "a(b",
    "a)b",
    "x$HOME",
    "\xff\xfe",
    "",
    "/etc",
    "a//b",
    "../x",
  };
  const char *fine[] = { "a:b", "x@y", "héllo/wörld", "日本語/ブランチ", "v1.2+rc,3%", "a-b_c.d" };
  g_autoptr (GPtrArray) all = g_ptr_array_new ();
  g_auto (GStrv) names = NULL;
  g_autofree char *shown = NULL;

  for (gsize i = 0; i < G_N_ELEMENTS (hostile); i++)
    {
      if (nearby_complete_word_is_safe (hostile[i]))
        g_error ("offered: %s", hostile[i]);
      g_ptr_array_add (all, (gpointer) hostile[i]);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (fine); i++)
    {
      g_assert_true (nearby_complete_word_is_safe (fine[i]));
      g_ptr_array_add (all, (gpointer) fine[i]);
    }
  names = nearby_complete_offers ((const char *const *) all->pdata, all->len, NULL);
  shown = joined (names);
  /* "a\tb" is a seen line: the name a, on the host b. */
  g_assert_cmpstr (shown, ==, "a,a-b_c.d,a:b,héllo/wörld,v1.2+rc,3%,x@y,日本語/ブランチ");
}

static void
test_hostile_host (void)
{
  /* Host names come from the network too; the name is still offered. */
  const char *seen[]
      = { "p/main\t$(touch pwned)", "p/main\tbob", "p/main\ta;b",        "p/main\t-rf",
          "p/main\tx\x1b[2J",       "p/main\t",    "p/main\tzw\u200bsp", "q/main\tcarol\tmore" };
  g_auto (GStrv) names = nearby_complete_offers (seen, G_N_ELEMENTS (seen), "p/main@");
  g_autofree char *shown = joined (names);
  g_auto (GStrv) plain = nearby_complete_offers (seen, G_N_ELEMENTS (seen), NULL);
  g_autofree char *plain_shown = joined (plain);

  g_assert_cmpstr (shown, ==, "p/main@bob");
  g_assert_cmpstr (plain_shown, ==, "p/main,q/main");
}

static void
test_cache (void)
{
  g_autofree char *dir = g_dir_make_tmp ("test-complete-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "git-nearby", "names", NULL);
  g_autofree char *parent = g_path_get_dirname (path);
  const char *names[]
      = { "alpha/main\tcarol", "myproj/fix-login\talice", "$(x)\tbob", "myproj/main\t$(x)", NULL };
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) back = NULL;
  g_autofree char *shown = NULL;
  GStatBuf st;
  struct utimbuf times;

  g_assert_null (nearby_complete_cache_read (path, 5));
  g_assert_true (nearby_complete_cache_write (path, names, &error));
  g_assert_no_error (error);
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  g_assert_cmpint (g_stat (parent, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0700);
  back = nearby_complete_cache_read (path, 5);
  g_assert_nonnull (back);
  shown = joined (back);
  /* What is not safe is not even written. */
  g_assert_cmpstr (shown, ==, "alpha/main\tcarol,myproj/fix-login\talice,myproj/main");
  g_clear_pointer (&back, g_strfreev);

  /* Stale: written 10 s ago, or in the future. */
  times.actime = times.modtime = time (NULL) - 10;
  g_assert_cmpint (g_utime (path, &times), ==, 0);
  g_assert_null (nearby_complete_cache_read (path, 5));
  times.actime = times.modtime = time (NULL) + 60;
  g_assert_cmpint (g_utime (path, &times), ==, 0);
  g_assert_null (nearby_complete_cache_read (path, 5));

  /* A written-over cache is filtered again; one others may write is ignored. */
  g_assert_true (g_file_set_contents (
      path, "b/x\n$(touch pwned)\na;b\nb/x\n\x1b[2J\n\na/y\tbob\nc/z\t`x`", -1, NULL));
  g_assert_cmpint (g_chmod (path, 0600), ==, 0);
  back = nearby_complete_cache_read (path, 5);
  g_assert_nonnull (back);
  g_clear_pointer (&shown, g_free);
  shown = joined (back);
  g_assert_cmpstr (shown, ==, "b/x,b/x,a/y\tbob,c/z");
  g_assert_cmpint (g_chmod (path, 0622), ==, 0);
  g_assert_null (nearby_complete_cache_read (path, 5));

  g_assert_cmpint (g_unlink (path), ==, 0);
  g_assert_cmpint (g_rmdir (parent), ==, 0);
  g_assert_cmpint (g_rmdir (dir), ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/complete/two-hosts", test_two_hosts);
  g_test_add_func ("/complete/prefix", test_prefix);
  g_test_add_func ("/complete/hostile", test_hostile);
  g_test_add_func ("/complete/hostile-host", test_hostile_host);
  g_test_add_func ("/complete/cache", test_cache);
  return g_test_run ();
}
