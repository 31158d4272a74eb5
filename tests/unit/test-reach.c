/* The reach set (the export boundary's commits) against git's own answer:
 * every set, walked in full or made from an older tip's, holds exactly the
 * commits `git rev-list TIP` lists, with their parents and commit times. */
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

#include "git-util.h"
#include "reach.h"

static char *dir;
static git_repository *repo;

static char *
git (const char *args)
{
  /* git's answers never come from the commit-graph under test. */
  g_autofree char *command = g_strdup_printf ("git -c core.commitGraph=false -C %s %s", dir, args);
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
  g_autofree char *args = g_strdup_printf ("-c user.name=T -c user.email=t@example.invalid commit "
                                           "-q --allow-empty -m %s --date=@%" G_GINT64_FORMAT,
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
  reach = nearby_reach_new_from (repo, base, &tip, NULL, &error);
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
 * parent's); other: from c2, never merged; octo: an octopus merge of three
 * branches from c4. */
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
  for (guint i = 0; i < 3; i++)
    {
      g_autofree char *checkout = g_strdup_printf ("checkout -q -b arm%u c3", i);
      g_autofree char *message = g_strdup_printf ("arm%u", i);

      g_free (git (checkout));
      commit (message, 8000 + i);
    }
  g_free (git ("checkout -q -b octo c5"));
  g_free (git (
      "-c user.name=T -c user.email=t@example.invalid merge -q --no-ff -m octopus arm0 arm1 arm2"));
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

/* What the walk over the commit-graph finds is what git finds without it. */
static void
assert_walks_as_git (void)
{
  const char *revs[] = { "main", "other", "octo", "side", "c3" };

  for (guint i = 0; i < G_N_ELEMENTS (revs); i++)
    {
      g_autoptr (NearbyReach) reach = reach_of (NULL, revs[i]);

      assert_same_as_git (reach, revs[i]);
    }
}

static char *
graph_path (void)
{
  return g_build_filename (dir, ".git", "objects", "info", "commit-graph", NULL);
}

static void
test_commit_graph (void)
{
  g_autofree char *path = graph_path ();
  g_autoptr (NearbyReach) before = NULL;
  g_autoptr (NearbyReach) reach = NULL;

  g_free (git ("-c core.commitGraph=true commit-graph write --reachable"));
  g_assert_true (g_file_test (path, G_FILE_TEST_EXISTS));
  assert_walks_as_git ();
  /* Commits made since the graph was: read, and the rest from the graph. */
  before = reach_of (NULL, "main");
  commit ("after-graph-1", 9000);
  commit ("after-graph-2", 9001);
  reach = reach_of (NULL, "main");
  assert_same_as_git (reach, "main");
  g_clear_pointer (&reach, nearby_reach_unref);
  reach = reach_of (before, "main");
  assert_same_as_git (reach, "main");
  g_free (git ("reset -q --hard HEAD~2"));
}

/* The graph's checksum, made again after an edit. */
static void
rechecksum (guint8 *data, gsize len)
{
  g_autoptr (GChecksum) sha1 = g_checksum_new (G_CHECKSUM_SHA1);
  gsize digest_len = 20;

  g_checksum_update (sha1, data, len - 20);
  g_checksum_get_digest (sha1, data + len - 20, &digest_len);
}

static guint32
get32 (const guint8 *p)
{
  guint32 v;

  memcpy (&v, p, sizeof v);
  return GUINT32_FROM_BE (v);
}

static void
put32 (guint8 *p, guint32 value)
{
  guint32 v = GUINT32_TO_BE (value);

  memcpy (p, &v, sizeof v);
}

/* The offset of chunk @id in a commit-graph file. */
static gsize
chunk_offset (const guint8 *data, const char *id)
{
  for (guint i = 0; i < data[6]; i++)
    if (memcmp (data + 8 + i * 12, id, 4) == 0)
      {
        guint64 offset;

        memcpy (&offset, data + 8 + i * 12 + 4, sizeof offset);
        return GUINT64_FROM_BE (offset);
      }
  g_assert_not_reached ();
}

static void
test_commit_graph_broken (void)
{
  g_autofree char *path = graph_path ();
  g_autofree guint8 *data = NULL;
  gsize len = 0;
  gsize cdat;

  g_assert_true (g_file_get_contents (path, (char **) &data, &len, NULL));
  g_assert_cmpint (chmod (path, 0644), ==, 0);
  cdat = chunk_offset (data, "CDAT");
  /* A parent position past the end, checksum and all in order: the walk
   * does not trust it, and reads the commits instead. */
  for (guint i = 0; i < 4; i++)
    {
      guint8 *parent = data + cdat + i * 36 + 20;

      if (get32 (parent) != 0x70000000)
        put32 (parent, 0x6fffffff);
    }
  rechecksum (data, len);
  g_assert_true (g_file_set_contents (path, (char *) data, len, NULL));
  assert_walks_as_git ();
  /* A parent that is another commit of the graph, checksum wrong: not
   * used. */
  for (guint i = 0; i < len / 36 && cdat + i * 36 + 24 <= len - 20; i++)
    {
      guint8 *parent = data + cdat + i * 36 + 20;

      if (get32 (parent) == 0x6fffffff)
        put32 (parent, 0);
    }
  data[len - 1] ^= 0xff;
  g_assert_true (g_file_set_contents (path, (char *) data, len, NULL));
  assert_walks_as_git ();
  g_assert_cmpint (g_unlink (path), ==, 0);
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
  g_test_add_func ("/reach/commit-graph", test_commit_graph);
  g_test_add_func ("/reach/commit-graph-broken", test_commit_graph_broken);
  rc = g_test_run ();
  git_repository_free (repo);
  rm = g_strdup_printf ("rm -rf %s", dir);
  g_spawn_command_line_sync (rm, NULL, NULL, NULL, NULL);
  g_free (dir);
  return rc;
}
