/* The reach set (the export boundary's commits) against git's own answer:
 * every set, walked in full or made from an older tip's, holds exactly the
 * commits `git rev-list TIP` lists, with their parents and commit times. */
#include <string.h>

#include "git-util.h"
#include "reach.h"

static char *dir;
static git_repository *repo;

static char *
git (const char *args)
{
  g_autofree char *command = g_strdup_printf ("git -C %s %s", dir, args);
  g_autofree char *out = NULL;
  g_autoptr (GError) error = NULL;
  int status = 0;

  g_assert_true (g_spawn_command_line_sync (command, &out, NULL, &status, &error));
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, NULL))
    g_error ("failed: %s", command);
  return g_strchomp (g_steal_pointer (&out));
}

static void
oid_of (const char *rev, git_oid *oid)
{
  g_autofree char *args = g_strdup_printf ("rev-parse %s", rev);
  g_autofree char *hex = git (args);

  g_assert_cmpint (git_oid_fromstr (oid, hex), ==, 0);
}

/* A commit on HEAD with @message, at commit time @time (seconds after
 * 2020-09-13). */
static void
commit (const char *message, gint64 time)
{
  time += 1600000000;
  g_autofree char *args = g_strdup_printf (
      "-c user.name=T -c user.email=t@example.invalid commit -q --allow-empty -m %s --date=@%"
      G_GINT64_FORMAT,
      message, time);
  g_autofree char *env = g_strdup_printf ("%" G_GINT64_FORMAT " +0000", time);

  g_setenv ("GIT_COMMITTER_DATE", env, TRUE);
  g_free (git (args));
  g_unsetenv ("GIT_COMMITTER_DATE");
}

/* @reach holds exactly what `git rev-list --parents @rev` says, with
 * `git log`'s commit times. */
static void
assert_same_as_git (NearbyReach *reach, const char *rev)
{
  g_autofree char *args = g_strdup_printf ("rev-list --parents %s", rev);
  g_autofree char *list = git (args);
  g_autofree char *times_args = g_strdup_printf ("log --format=%%H:%%ct %s", rev);
  g_autofree char *times = git (times_args);
  g_auto (GStrv) lines = g_strsplit (list, "\n", -1);
  g_auto (GStrv) time_lines = g_strsplit (times, "\n", -1);
  git_oid tip;

  oid_of (rev, &tip);
  g_assert_true (git_oid_equal (nearby_reach_tip (reach), &tip));
  g_assert_cmpuint (nearby_reach_size (reach), ==, g_strv_length (lines));
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_auto (GStrv) ids = g_strsplit (lines[i], " ", -1);
      g_autoptr (GArray) parents = g_array_new (FALSE, FALSE, sizeof (git_oid));
      git_oid oid;

      g_assert_cmpint (git_oid_fromstr (&oid, ids[0]), ==, 0);
      g_assert_true (nearby_reach_contains (reach, &oid));
      g_assert_true (nearby_reach_parents (reach, &oid, parents));
      g_assert_cmpuint (parents->len, ==, g_strv_length (ids) - 1);
      for (guint p = 1; ids[p] != NULL; p++)
        {
          gboolean found = FALSE;
          git_oid parent;

          g_assert_cmpint (git_oid_fromstr (&parent, ids[p]), ==, 0);
          for (guint k = 0; k < parents->len; k++)
            found |= git_oid_equal (&g_array_index (parents, git_oid, k), &parent);
          g_assert_true (found);
        }
    }
  for (guint i = 0; time_lines[i] != NULL; i++)
    {
      char *colon = strchr (time_lines[i], ':');
      gint64 time = 0;
      git_oid oid;

      g_assert_nonnull (colon);
      *colon = '\0';
      g_assert_cmpint (git_oid_fromstr (&oid, time_lines[i]), ==, 0);
      g_assert_true (nearby_reach_time (reach, &oid, &time));
      g_assert_cmpint (time, ==, g_ascii_strtoll (colon + 1, NULL, 10));
    }
}

static NearbyReach *
reach_of (NearbyReach *base, const char *rev)
{
  g_autoptr (GError) error = NULL;
  NearbyReach *reach;
  git_oid tip;

  oid_of (rev, &tip);
  reach = nearby_reach_new_from (repo, base, &tip, &error);
  g_assert_no_error (error);
  g_assert_nonnull (reach);
  return reach;
}

static void
assert_lacks (NearbyReach *reach, const char *rev)
{
  git_oid oid;

  oid_of (rev, &oid);
  g_assert_false (nearby_reach_contains (reach, &oid));
}

/* main: c1 .. c5, side (from c3) merged, c6 (its clock behind its
 * parent's); other: from c2, never merged. */
static void
setup (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *init = NULL;

  dir = g_dir_make_tmp ("nearby-reach.XXXXXX", &error);
  g_assert_no_error (error);
  init = g_strdup_printf ("git init -q -b main %s", dir);
  g_assert_true (g_spawn_command_line_sync (init, NULL, NULL, NULL, &error));
  commit ("c1", 1000);
  commit ("c2", 2000);
  g_free (git ("branch other"));
  commit ("c3", 3000);
  g_free (git ("tag c3"));
  g_free (git ("branch side"));
  commit ("c4", 4000);
  commit ("c5", 5000);
  g_free (git ("tag c5"));
  g_free (git ("checkout -q side"));
  commit ("s1", 3500);
  commit ("s2", 3600);
  g_free (git ("checkout -q main"));
  g_free (git ("-c user.name=T -c user.email=t@example.invalid merge -q --no-ff -m m1 side"));
  commit ("c6", 100); /* a clock that was wrong */
  g_free (git ("checkout -q other"));
  commit ("o1", 6000);
  commit ("o2", 7000);
  g_free (git ("checkout -q main"));
  g_assert_cmpint (git_repository_open (&repo, dir), ==, 0);
}

static void
test_full_walk (void)
{
  g_autoptr (NearbyReach) reach = reach_of (NULL, "main");

  assert_same_as_git (reach, "main");
  assert_lacks (reach, "other");
  assert_lacks (reach, "other~1");
}

static void
test_fast_forward (void)
{
  g_autoptr (NearbyReach) base = reach_of (NULL, "c5");
  g_autoptr (NearbyReach) reach = reach_of (base, "main");

  assert_same_as_git (base, "c5");
  assert_same_as_git (reach, "main");
  assert_lacks (reach, "other");
}

static void
test_same_tip (void)
{
  g_autoptr (NearbyReach) base = reach_of (NULL, "main");
  g_autoptr (NearbyReach) reach = reach_of (base, "main");

  g_assert_true (reach == base);
}

static void
test_rewind (void)
{
  g_autoptr (NearbyReach) base = reach_of (NULL, "main");
  g_autoptr (NearbyReach) reach = reach_of (base, "main~2");
  g_autoptr (NearbyReach) side = reach_of (base, "side");

  /* Nothing the old tip reached but the new one does not may stay. */
  assert_same_as_git (reach, "main~2");
  assert_lacks (reach, "main");
  assert_lacks (reach, "side");
  assert_same_as_git (side, "side");
  assert_lacks (side, "c5");
}

static void
test_force_push (void)
{
  g_autoptr (NearbyReach) base = reach_of (NULL, "main");
  g_autoptr (NearbyReach) reach = reach_of (base, "other");
  g_autoptr (NearbyReach) back = reach_of (reach, "main");

  assert_same_as_git (reach, "other");
  assert_lacks (reach, "main");
  assert_lacks (reach, "c3");
  assert_lacks (reach, "side");
  /* And back, from a set that shares only c1 and c2 with main's. */
  assert_same_as_git (back, "main");
  assert_lacks (back, "other");
}

static void
test_shallow (void)
{
  g_autofree char *clone_dir = g_strconcat (dir, "-shallow", NULL);
  g_autofree char *command
      = g_strdup_printf ("git clone -q --depth 2 --branch main file://%s %s", dir, clone_dir);
  g_autoptr (GError) error = NULL;
  g_autoptr (git_repository) shallow = NULL;
  g_autoptr (NearbyReach) reach = NULL;
  g_autoptr (GArray) parents = g_array_new (FALSE, FALSE, sizeof (git_oid));
  g_autofree char *rm = g_strdup_printf ("rm -rf %s", clone_dir);
  git_oid tip, boundary;

  g_assert_true (g_spawn_command_line_sync (command, NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (git_repository_open (&shallow, clone_dir), ==, 0);
  oid_of ("main", &tip);
  reach = nearby_reach_new (shallow, &tip, &error);
  g_assert_no_error (error);
  /* main and m1, its parent, the shallow boundary: m1's parents are not
   * in the clone, and the set leaves them out. */
  g_assert_cmpuint (nearby_reach_size (reach), ==, 2);
  g_assert_true (nearby_reach_parents (reach, &tip, parents));
  g_assert_cmpuint (parents->len, ==, 1);
  oid_of ("main~1", &boundary);
  g_assert_true (git_oid_equal (&g_array_index (parents, git_oid, 0), &boundary));
  g_array_set_size (parents, 0);
  g_assert_true (nearby_reach_parents (reach, &boundary, parents));
  g_assert_cmpuint (parents->len, ==, 0);
  g_assert_true (g_spawn_command_line_sync (rm, NULL, NULL, NULL, NULL));
}

static void
test_not_a_commit (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NearbyReach) reach = NULL;
  git_oid tree, missing;

  oid_of ("main^{tree}", &tree);
  reach = nearby_reach_new (repo, &tree, &error);
  g_assert_null (reach);
  g_assert_nonnull (error);
  g_clear_error (&error);
  memset (&missing, 0x42, sizeof missing);
  reach = nearby_reach_new (repo, &missing, &error);
  g_assert_null (reach);
  g_assert_nonnull (error);
}

int
main (int argc, char **argv)
{
  g_autofree char *rm = NULL;
  int rc;

  g_test_init (&argc, &argv, NULL);
  g_setenv ("GIT_CONFIG_NOSYSTEM", "1", TRUE);
  g_setenv ("HOME", "/nonexistent", TRUE);
  git_libgit2_init ();
  setup ();
  g_test_add_func ("/reach/full-walk", test_full_walk);
  g_test_add_func ("/reach/fast-forward", test_fast_forward);
  g_test_add_func ("/reach/same-tip", test_same_tip);
  g_test_add_func ("/reach/rewind", test_rewind);
  g_test_add_func ("/reach/force-push", test_force_push);
  g_test_add_func ("/reach/shallow", test_shallow);
  g_test_add_func ("/reach/not-a-commit", test_not_a_commit);
  rc = g_test_run ();
  git_repository_free (repo);
  rm = g_strdup_printf ("rm -rf %s", dir);
  g_spawn_command_line_sync (rm, NULL, NULL, NULL, NULL);
  g_free (dir);
  return rc;
}
