#include "git-util.h"
#include "opt-in.h"

static void
rm_rf (const char *dir)
{
  const char *argv[] = { "rm", "-rf", "--", dir, NULL };

  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL,
                               NULL, NULL, NULL));
}

static void
test_key (void)
{
  g_autofree char *key = nearby_opt_in_key ("fix/login.v2");
  g_autofree char *branch = nearby_opt_in_branch_from_key (key);

  g_assert_cmpstr (key, ==, "branch.fix/login.v2.nearby");
  g_assert_cmpstr (branch, ==, "fix/login.v2");
  g_assert_null (nearby_opt_in_branch_from_key ("branch.main.remote"));
  g_assert_null (nearby_opt_in_branch_from_key ("branch..nearby"));
  g_assert_null (nearby_opt_in_branch_from_key ("remote.x.nearby"));
}

static void
test_values (void)
{
  const struct
  {
    const char *value;
    gboolean opted_in;
    const char *name;
  } cases[] = {
    { NULL, TRUE, NULL },         { "true", TRUE, NULL }, { "yes", TRUE, NULL },
    { "on", TRUE, NULL },         { "1", TRUE, NULL },    { "false", FALSE, NULL },
    { "no", FALSE, NULL },        { "0", FALSE, NULL },   { "off", FALSE, NULL },
    { "demo/x", TRUE, "demo/x" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *name = NULL;

      g_assert_cmpint (nearby_opt_in_parse_value (cases[i].value, &name), ==, cases[i].opted_in);
      g_assert_cmpstr (name, ==, cases[i].name);
    }
  g_assert_true (nearby_opt_in_name_is_boolean ("Yes"));
  g_assert_false (nearby_opt_in_name_is_boolean ("myproj/main"));
}

/* Reads a real repository's config, written as a user would by hand. */
static void
test_read_repository (void)
{
  g_autofree char *dir = g_dir_make_tmp ("nearby-opt-in-XXXXXX", NULL);
  g_autofree char *repo_dir = g_build_filename (dir, "proj.git", NULL);
  g_autofree char *config_path = g_build_filename (repo_dir, "config", NULL);
  g_autoptr (git_repository) repo = NULL;
  g_autoptr (GPtrArray) opt_ins = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *config = NULL;
  g_autofree char *edited = NULL;
  NearbyOptIn *o;

  nearby_git_init ();
  g_assert_cmpint (git_repository_init (&repo, repo_dir, TRUE), ==, 0);
  g_assert_true (g_file_get_contents (config_path, &config, NULL, NULL));
  edited = g_strconcat (config,
                        "[branch \"main\"]\n\tnearby = true\n"
                        "[branch \"Fix/Login\"]\n\tnearby = demo\n"
                        "[branch \"off\"]\n\tnearby = false\n"
                        "[branch \"bad\"]\n\tnearby = a//b\n",
                        NULL);
  g_assert_true (g_file_set_contents (config_path, edited, -1, NULL));
  git_repository_free (g_steal_pointer (&repo));
  repo = nearby_git_open (repo_dir, &error);
  g_assert_no_error (error);

  opt_ins = nearby_opt_ins_read (repo, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (opt_ins->len, ==, 3);
  o = opt_ins->pdata[0];
  g_assert_cmpstr (o->branch, ==, "Fix/Login");
  g_assert_cmpstr (o->name, ==, "demo");
  g_assert_false (o->is_default);
  o = opt_ins->pdata[1];
  g_assert_cmpstr (o->branch, ==, "bad");
  g_assert_null (o->name);
  g_assert_nonnull (o->problem);
  o = opt_ins->pdata[2];
  g_assert_cmpstr (o->branch, ==, "main");
  g_assert_cmpstr (o->name, ==, "proj/main");
  g_assert_true (o->is_default);

  rm_rf (dir);
}

static void
test_repo_name (void)
{
  g_autofree char *dir = g_dir_make_tmp ("nearby-name-XXXXXX", NULL);
  g_autofree char *work = g_build_filename (dir, "myproj", NULL);
  g_autofree char *bare = g_build_filename (dir, "other.git", NULL);
  g_autoptr (git_repository) a = NULL;
  g_autoptr (git_repository) b = NULL;
  g_autofree char *name_a = NULL;
  g_autofree char *name_b = NULL;

  nearby_git_init ();
  g_assert_cmpint (git_repository_init (&a, work, FALSE), ==, 0);
  g_assert_cmpint (git_repository_init (&b, bare, TRUE), ==, 0);
  name_a = nearby_git_repo_name (a);
  name_b = nearby_git_repo_name (b);
  g_assert_cmpstr (name_a, ==, "myproj");
  g_assert_cmpstr (name_b, ==, "other");
  rm_rf (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/opt-in/key", test_key);
  g_test_add_func ("/opt-in/values", test_values);
  g_test_add_func ("/opt-in/read-repository", test_read_repository);
  g_test_add_func ("/opt-in/repo-name", test_repo_name);
  return g_test_run ();
}
