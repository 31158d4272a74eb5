/* Upload-pack planning (nearby_upload_pack_plan) against git's own
 * upload-pack: for a request that names only what the advertised branch
 * holds, what we say before the pack (ACKs, NAK, ready, shallow and
 * unshallow lines) is what `git upload-pack --stateless-rpc` says for the
 * same request on the same repository. What git would give away (private
 * commits, trees, blobs) we refuse, exactly as an id that does not exist. */
#include <gio/gio.h>
#include <string.h>

#include "git-util.h"
#include "pkt-line.h"
#include "upload-pack.h"

static char *dir;
static git_repository *repo;

/* Commit ids by name, filled in main(). */
static char *a1, *a2, *a3, *b1, *b2, *m, *c1, *tip, *p1, *p1_tree, *p1_blob, *tip_tree;
static const char *none = "0123456789abcdef0123456789abcdef01234567";
static const char *unknown = "00000000000000000000000000000000000000aa";

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

/* A commit on HEAD adding @name, at commit time @time. */
static char *
commit (const char *name, gint64 time)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autofree char *add = g_strdup_printf ("add %s", name);
  g_autofree char *args = g_strdup_printf (
      "-c user.name=T -c user.email=t@example.invalid commit -q -m %s --date=@%" G_GINT64_FORMAT,
      name, time);
  g_autofree char *env = g_strdup_printf ("%" G_GINT64_FORMAT " +0000", time);

  g_assert_true (g_file_set_contents (path, name, -1, NULL));
  g_free (git (add));
  g_setenv ("GIT_COMMITTER_DATE", env, TRUE);
  g_free (git (args));
  g_unsetenv ("GIT_COMMITTER_DATE");
  return git ("rev-parse HEAD");
}

static void
make_repository (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *merge = NULL;

  dir = g_dir_make_tmp ("test-upload-pack-XXXXXX", &error);
  g_assert_no_error (error);
  /* Neither git here nor git upload-pack reads the user's configuration. */
  g_setenv ("HOME", dir, TRUE);
  g_setenv ("XDG_CONFIG_HOME", dir, TRUE);
  g_setenv ("GIT_CONFIG_NOSYSTEM", "1", TRUE);
  g_free (git ("init -q -b main"));
  /* root - a1 - a2 - a3 - m - c1 - tip, with b1 - b2 from a1 merged at m;
   * "private" (not advertised) has p1 on a2. */
  g_free (commit ("root", 1600000100));
  a1 = commit ("a1", 1600000200);
  a2 = commit ("a2", 1600000300);
  g_free (git ("checkout -q -b private"));
  p1 = commit ("secret", 1600000450);
  p1_tree = git ("rev-parse HEAD^{tree}");
  p1_blob = git ("rev-parse HEAD:secret");
  g_free (git ("checkout -q main"));
  a3 = commit ("a3", 1600000400);
  merge = g_strdup_printf ("checkout -q -b side %s", a1);
  g_free (git (merge));
  b1 = commit ("b1", 1600000250);
  b2 = commit ("b2", 1600000350);
  g_free (git ("checkout -q main"));
  g_setenv ("GIT_COMMITTER_DATE", "1600000500 +0000", TRUE);
  g_free (git ("-c user.name=T -c user.email=t@example.invalid merge -q --no-ff -m m side"));
  g_unsetenv ("GIT_COMMITTER_DATE");
  g_free (git ("branch -q -D side"));
  m = git ("rev-parse HEAD");
  c1 = commit ("c1", 1600000600);
  tip = commit ("tip", 1600000700);
  tip_tree = git ("rev-parse HEAD^{tree}");
  g_assert_cmpint (git_repository_open (&repo, dir), ==, 0);
}

static NearbyReach *
get_reach (gpointer data, const git_oid *oid, GError **error)
{
  return nearby_reach_new (repo, oid, error);
}

/* @text as pkt-lines: one line each, "FLUSH" and "DELIM" as those packets. */
static GBytes *
encode (const char *text)
{
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  GByteArray *out = g_byte_array_new ();

  for (char **l = lines; *l != NULL; l++)
    if (strcmp (*l, "FLUSH") == 0)
      nearby_pkt_flush (out);
    else if (strcmp (*l, "DELIM") == 0)
      nearby_pkt_delim (out);
    else if (**l != '\0')
      nearby_pkt_write (out, "%s\n", *l);
  return g_byte_array_free_to_bytes (out);
}

/* The pkt-lines of @data as text, up to the first sideband packet (the
 * pack): data lines as they are, flush and delim as "FLUSH" and "DELIM". */
static char *
transcript (const guint8 *data, gsize len)
{
  GString *out = g_string_new (NULL);
  gsize pos = 0;

  while (pos + 4 <= len)
    {
      char hex[5] = { 0 };
      guint64 n;

      memcpy (hex, data + pos, 4);
      n = g_ascii_strtoull (hex, NULL, 16);
      if (n == 0 || n == 1)
        {
          g_string_append (out, n == 0 ? "FLUSH\n" : "DELIM\n");
          pos += 4;
          continue;
        }
      g_assert_cmpuint (n, >=, 4);
      g_assert_cmpuint (pos + n, <=, len);
      if (n > 4 && data[pos + 4] >= 1 && data[pos + 4] <= 3)
        break;
      g_string_append_len (out, (const char *) data + pos + 4, n - 4);
      if (out->str[out->len - 1] != '\n')
        g_string_append_c (out, '\n');
      pos += n;
    }
  return g_string_free (out, FALSE);
}

/* Our answer to @request, before the pack. */
static char *
ours_with (const char *request, gboolean v2, NearbyPackPlan **plan_out)
{
  g_autoptr (GBytes) body = encode (request);
  NearbyUploadTarget target = { 0 };
  NearbyPackPlan *plan;
  char *text;

  target.repo = repo;
  target.branch = "main";
  target.refname = "refs/heads/main";
  g_assert_cmpint (git_oid_fromstr (&target.tip, tip), ==, 0);
  target.get_reach = get_reach;
  plan = nearby_upload_pack_plan (&target, v2, g_bytes_get_data (body, NULL),
                                  g_bytes_get_size (body));
  text = transcript (plan->preamble->data, plan->preamble->len);
  if (plan_out != NULL)
    *plan_out = plan;
  else
    nearby_pack_plan_free (plan);
  return text;
}

static char *
ours (const char *request, gboolean v2)
{
  return ours_with (request, v2, NULL);
}

/* git's answer to @request, before the pack. */
static char *
theirs (const char *request, gboolean v2)
{
  g_autoptr (GSubprocessLauncher) launcher
      = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE
                                   | G_SUBPROCESS_FLAGS_STDERR_SILENCE);
  g_autoptr (GSubprocess) git_process = NULL;
  g_autoptr (GBytes) body = encode (request);
  g_autoptr (GBytes) out = NULL;
  g_autoptr (GError) error = NULL;

  if (v2)
    g_subprocess_launcher_setenv (launcher, "GIT_PROTOCOL", "version=2", TRUE);
  git_process = g_subprocess_launcher_spawn (launcher, &error, "git", "upload-pack",
                                             "--stateless-rpc", dir, NULL);
  g_assert_no_error (error);
  g_subprocess_communicate (git_process, body, NULL, &out, NULL, &error);
  g_assert_no_error (error);
  return transcript (g_bytes_get_data (out, NULL), g_bytes_get_size (out));
}

/* The same before the pack as git's. */
static void
assert_as_git (const char *request, gboolean v2)
{
  g_autofree char *a = ours (request, v2);
  g_autofree char *b = theirs (request, v2);

  g_assert_cmpstr (a, ==, b);
}

#define V0_CAPS " multi_ack_detailed side-band-64k ofs-delta no-progress"
#define V2_FETCH "command=fetch\nobject-format=sha1\nDELIM\nno-progress\nofs-delta\n"

static char *
v0_want (const char *want, const char *rest)
{
  return g_strdup_printf ("want %s" V0_CAPS "\n%s", want, rest);
}

/* ---- wants ---- */

static void
test_want_tip (void)
{
  g_autofree char *clone = v0_want (tip, "FLUSH\ndone\n");
  g_autofree char *v2 = g_strdup_printf (V2_FETCH "want %s\ndone\nFLUSH\n", tip);
  NearbyPackPlan *plan = NULL;
  g_autofree char *answer = ours_with (clone, FALSE, &plan);

  assert_as_git (clone, FALSE);
  assert_as_git (v2, TRUE);
  g_assert_true (plan->send_pack);
  g_assert_cmpstr (answer, ==, "NAK\n");
  nearby_pack_plan_free (plan);
}

/* A private commit, its tree and blob, a tree of the branch and an id that
 * names nothing: one answer, so that it says nothing about what exists. */
static void
test_want_outside (void)
{
  const char *outside[] = { p1, p1_tree, p1_blob, tip_tree, none };

  for (gboolean v2 = FALSE; v2 <= TRUE; v2++)
    for (guint i = 0; i < G_N_ELEMENTS (outside); i++)
      {
        g_autofree char *request
            = v2 ? g_strdup_printf (V2_FETCH "want %s\ndone\nFLUSH\n", outside[i])
                 : v0_want (outside[i], "FLUSH\ndone\n");
        g_autofree char *expected
            = g_strdup_printf ("ERR upload-pack: not our ref %s\n", outside[i]);
        NearbyPackPlan *plan = NULL;
        g_autofree char *answer = ours_with (request, v2, &plan);

        g_assert_cmpstr (answer, ==, expected);
        g_assert_false (plan->send_pack);
        nearby_pack_plan_free (plan);
      }
}

/* ---- haves ---- */

/* v0, one stateless round (no done): ACKs and NAK as git says them. */
static void
test_haves_v0 (void)
{
  /* want, common have, and whether the round ends in done: a want above
   * the common (ready), one that does not reach it, one that reaches it
   * through the merge, one that is the common's parent (had: ready). */
  const struct
  {
    const char *want, *common;
    gboolean done;
  } rounds[] = {
    { tip, a3, FALSE }, { a2, b2, FALSE }, { m, b1, FALSE },
    { b1, b2, FALSE },  { c1, a3, TRUE },  { a2, b2, TRUE },
  };

  for (guint i = 0; i < G_N_ELEMENTS (rounds); i++)
    {
      g_autofree char *haves = g_strdup_printf ("FLUSH\nhave %s\nhave %s\n%s\n", rounds[i].common,
                                                unknown, rounds[i].done ? "done" : "FLUSH");
      g_autofree char *request = v0_want (rounds[i].want, haves);

      g_test_message ("round %u", i);
      assert_as_git (request, FALSE);
    }
  {
    /* Only commons in the round: "ready" on the flush. */
    g_autofree char *haves = g_strdup_printf ("FLUSH\nhave %s\nhave %s\nFLUSH\n", b2, a3);
    g_autofree char *request = v0_want (c1, haves);
    g_autofree char *answer = ours (request, FALSE);

    assert_as_git (request, FALSE);
    g_assert_nonnull (strstr (answer, "ready"));
  }
  {
    /* Nothing common: NAK, then the pack after done. */
    g_autofree char *haves = g_strdup_printf ("FLUSH\nhave %s\nFLUSH\n", unknown);
    g_autofree char *request = v0_want (a3, haves);
    g_autofree char *request_done
        = v0_want (a3, "FLUSH\nhave "
                       "00000000000000000000000000000000000000bb\ndone\n");

    assert_as_git (request, FALSE);
    assert_as_git (request_done, FALSE);
  }
}

static void
test_haves_v2 (void)
{
  const char *wants[] = { tip, a2, m, b1, c1 };
  const char *commons[] = { a3, b2, b1, b2, a3 };

  for (guint i = 0; i < G_N_ELEMENTS (wants); i++)
    for (guint done = 0; done <= 1; done++)
      {
        g_autofree char *request
            = g_strdup_printf (V2_FETCH "want %s\nhave %s\nhave %s\n%sFLUSH\n", wants[i], unknown,
                               commons[i], done ? "done\n" : "");

        g_test_message ("want %u, done %u", i, done);
        assert_as_git (request, TRUE);
      }
  {
    g_autofree char *request = g_strdup_printf (V2_FETCH "want %s\nhave %s\nFLUSH\n", a3, unknown);

    assert_as_git (request, TRUE);
  }
}

static char *
have_request (gboolean v2, const char *have)
{
  if (v2)
    return g_strdup_printf (V2_FETCH "want %s\nhave %s\nhave %s\nFLUSH\n", tip, have, a3);
  return g_strdup_printf ("want %s" V0_CAPS "\nFLUSH\nhave %s\nhave %s\nhave %s\nFLUSH\n", tip, a3,
                          have, a2);
}

/* A private commit as a have is an unknown one: the same answer as for an
 * id that names nothing (git would ACK it), and that answer is git's. */
static void
test_have_outside (void)
{
  for (gboolean v2 = FALSE; v2 <= TRUE; v2++)
    {
      g_autofree char *with_private = have_request (v2, p1);
      g_autofree char *with_none = have_request (v2, none);
      g_autofree char *a = ours (with_private, v2);
      g_autofree char *b = ours (with_none, v2);
      g_autoptr (GString) swapped = g_string_new (b);

      /* v0 says "ready" on the unknown have, naming it. */
      g_string_replace (swapped, none, p1, 0);
      g_assert_cmpstr (a, ==, swapped->str);
      if (!v2)
        g_assert_nonnull (strstr (a, "ready"));
      assert_as_git (with_none, v2);
    }
}

/* Random histories with merges and clocks that go backwards, and random
 * rounds of wants and haves (commons and unknown ids interleaved, so that
 * ok_to_give_up() is asked again and again as the date cutoff moves): every
 * answer is git's. */
static void
test_haves_random (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (11);
  char *saved_dir = dir, *saved_tip = tip;
  git_repository *saved_repo = repo;
  g_autoptr (GError) error = NULL;
  g_autoptr (GString) import = g_string_new (NULL);
  g_autofree char *list = NULL;
  g_auto (GStrv) ids = NULL;
  const guint n = 300, rounds = 150;
  guint n_ready = 0;
  gint64 time = 1600000000;

  dir = g_dir_make_tmp ("test-upload-pack-random-XXXXXX", &error);
  g_assert_no_error (error);
  g_free (git ("init -q -b main"));
  for (guint k = 1; k <= n; k++)
    {
      time += g_rand_int_range (rand, -40, 100);
      g_string_append_printf (import,
                              "commit refs/heads/main\nmark :%u\n"
                              "committer T <t@example.invalid> %" G_GINT64_FORMAT " +0000\n"
                              "data 2\n%02u\n",
                              k, time, k % 100);
      if (k > 1)
        {
          guint from = k - 1 - g_rand_int_range (rand, 0, MIN (k - 1, 8));

          g_string_append_printf (import, "from :%u\n", from);
          if (k > 3 && g_rand_int_range (rand, 0, 4) == 0)
            {
              guint other = k - 1 - g_rand_int_range (rand, 0, MIN (k - 1, 30));

              if (other != from)
                g_string_append_printf (import, "merge :%u\n", other);
            }
        }
      g_string_append_printf (import, "M 644 inline f%u\ndata 2\n%02u\n\n", k % 7, k % 100);
    }
  {
    g_autofree char *path = g_build_filename (dir, "import", NULL);
    g_autofree char *args = g_strdup_printf ("fast-import --quiet < %s", path);
    g_autofree char *command = g_strdup_printf ("sh -c 'cd %s && git %s'", dir, args);

    g_assert_true (g_file_set_contents (path, import->str, import->len, NULL));
    g_assert_true (g_spawn_command_line_sync (command, NULL, NULL, NULL, NULL));
  }
  tip = git ("rev-parse main");
  /* Only commits of the branch: git would ACK the others. */
  list = git ("rev-list main");
  ids = g_strsplit (list, "\n", -1);
  g_assert_cmpint (git_repository_open (&repo, dir), ==, 0);

  for (guint r = 0; r < rounds; r++)
    {
      g_autoptr (GString) request = g_string_new (NULL);
      gboolean v2 = r % 3 == 2;
      guint n_wants = g_rand_int_range (rand, 1, 5);
      guint n_haves = g_rand_int_range (rand, 1, 40);
      guint len = g_strv_length (ids);

      if (v2)
        g_string_append (request, V2_FETCH);
      for (guint w = 0; w < n_wants; w++)
        {
          /* Not the tip: we know at once that it reaches every common,
           * where git's walk may stop at a clock that went backwards. */
          const char *want = ids[g_rand_int_range (rand, 1, MIN (len, 120))];

          g_string_append_printf (request, "want %s%s\n", want, !v2 && w == 0 ? V0_CAPS : "");
        }
      if (!v2)
        g_string_append (request, "FLUSH\n");
      /* Each have once: git 2.39 acknowledges a repeated v2 have again, git
       * 2.47 once, as we do. */
      g_autoptr (GHashTable) taken = g_hash_table_new (g_str_hash, g_str_equal);
      for (guint h = 0; h < n_haves; h++)
        {
          char *have = ids[g_rand_int_range (rand, 0, len)];

          if (g_rand_int_range (rand, 0, 3) == 0)
            g_string_append_printf (request, "have %040x\n", g_rand_int (rand));
          else if (g_hash_table_add (taken, have))
            g_string_append_printf (request, "have %s\n", have);
        }
      g_string_append (request, "FLUSH\n");
      g_test_message ("request %u", r);
      assert_as_git (request->str, v2);
      {
        g_autofree char *answer = ours (request->str, v2);

        n_ready += strstr (answer, "ready") != NULL;
      }
    }
  /* Both answers came up often enough to mean something. */
  g_test_message ("%u of %u rounds ready", n_ready, rounds);
  g_assert_cmpuint (n_ready, >, rounds / 5);
  g_assert_cmpuint (n_ready, <, rounds - rounds / 5);

  git_repository_free (repo);
  {
    g_autofree char *command = g_strdup_printf ("rm -rf %s", dir);

    g_assert_true (g_spawn_command_line_sync (command, NULL, NULL, NULL, NULL));
  }
  g_free (dir);
  g_free (tip);
  dir = saved_dir;
  tip = saved_tip;
  repo = saved_repo;
}

/* ---- shallow ---- */

static void
assert_shallow_as_git (const char *lines)
{
  g_autofree char *v0 = g_strdup_printf ("want %s" V0_CAPS "\n%sFLUSH\ndone\n", tip, lines);
  g_autofree char *v2 = g_strdup_printf (V2_FETCH "want %s\n%sdone\nFLUSH\n", tip, lines);

  assert_as_git (v0, FALSE);
  assert_as_git (v2, TRUE);
}

static void
test_deepen (void)
{
  for (int depth = 1; depth <= 6; depth++)
    {
      g_autofree char *lines = g_strdup_printf ("deepen %d\n", depth);

      g_test_message ("deepen %d", depth);
      assert_shallow_as_git (lines);
    }
}

static void
test_deepen_since (void)
{
  const gint64 since[] = { 1600000700, 1600000550, 1600000400, 1600000300, 1600000100, 1 };

  for (guint i = 0; i < G_N_ELEMENTS (since); i++)
    {
      g_autofree char *lines = g_strdup_printf ("deepen-since %" G_GINT64_FORMAT "\n", since[i]);

      g_test_message ("deepen-since %" G_GINT64_FORMAT, since[i]);
      assert_shallow_as_git (lines);
    }
}

static char *
deepen_not_request (gboolean v2, const char *ref)
{
  if (v2)
    return g_strdup_printf (V2_FETCH "want %s\ndeepen-not %s\ndone\nFLUSH\n", tip, ref);
  return g_strdup_printf ("want %s" V0_CAPS "\ndeepen-not %s\nFLUSH\ndone\n", tip, ref);
}

/* deepen-not of the advertised branch excludes everything, as in git; of
 * another branch it is refused like a ref that does not exist. */
static void
test_deepen_not (void)
{
  for (gboolean v2 = FALSE; v2 <= TRUE; v2++)
    {
      g_autofree char *own = deepen_not_request (v2, "refs/heads/main");
      g_autofree char *private = deepen_not_request (v2, "private");
      g_autofree char *nothing = deepen_not_request (v2, "nothing");
      g_autofree char *answer = ours (own, v2);
      g_autofree char *a = ours (private, v2);
      g_autofree char *b = ours (nothing, v2);

      g_assert_cmpstr (answer, ==, "ERR no commits selected for shallow requests\n");
      g_assert_cmpstr (a, ==, "ERR deepen-not: unknown ref 'private'\n");
      g_assert_cmpstr (b, ==, "ERR deepen-not: unknown ref 'nothing'\n");
    }
}

/* The client's shallows, each repeated: git takes each once. */
static void
test_shallow_repeated (void)
{
  g_autofree char *relative = g_strdup_printf (
      "shallow %s\nshallow %s\nshallow %s\nshallow %s\ndeepen 1\n", c1, c1, m, c1);
  g_autofree char *deeper = g_strdup_printf ("shallow %s\nshallow %s\ndeepen 4\n", c1, c1);
  g_autofree char *unshallow
      = g_strdup_printf ("shallow %s\nshallow %s\nshallow %s\ndeepen 2147483647\n", c1, c1, a3);
  g_autofree char *v0
      = g_strdup_printf ("want %s" V0_CAPS " deepen-relative\n%sFLUSH\ndone\n", tip, relative);
  g_autofree char *v2
      = g_strdup_printf (V2_FETCH "want %s\n%sdeepen-relative\ndone\nFLUSH\n", tip, relative);
  NearbyPackPlan *plan = NULL;
  g_autofree char *answer = NULL;
  g_auto (GStrv) input = NULL;
  guint grafts = 0;

  assert_as_git (v0, FALSE);
  assert_as_git (v2, TRUE);
  assert_shallow_as_git (deeper);
  assert_shallow_as_git (unshallow);

  /* pack-objects gets each graft once. */
  answer = ours_with (v2, TRUE, &plan);
  input = g_strsplit (plan->input->str, "\n", -1);
  for (char **l = input; *l != NULL; l++)
    if (g_str_has_prefix (*l, "--shallow ") && strcmp (*l + 10, c1) == 0)
      grafts++;
  g_assert_cmpuint (grafts, ==, 1);
  nearby_pack_plan_free (plan);
}

int
main (int argc, char **argv)
{
  int status;

  g_test_init (&argc, &argv, NULL);
  git_libgit2_init ();
  make_repository ();

  g_test_add_func ("/upload-pack/want/tip", test_want_tip);
  g_test_add_func ("/upload-pack/want/outside", test_want_outside);
  g_test_add_func ("/upload-pack/have/v0", test_haves_v0);
  g_test_add_func ("/upload-pack/have/v2", test_haves_v2);
  g_test_add_func ("/upload-pack/have/outside", test_have_outside);
  g_test_add_func ("/upload-pack/have/random", test_haves_random);
  g_test_add_func ("/upload-pack/shallow/deepen", test_deepen);
  g_test_add_func ("/upload-pack/shallow/deepen-since", test_deepen_since);
  g_test_add_func ("/upload-pack/shallow/deepen-not", test_deepen_not);
  g_test_add_func ("/upload-pack/shallow/repeated", test_shallow_repeated);
  status = g_test_run ();

  git_repository_free (repo);
  {
    g_autofree char *command = g_strdup_printf ("rm -rf %s", dir);

    g_assert_true (g_spawn_command_line_sync (command, NULL, NULL, NULL, NULL));
  }
  git_libgit2_shutdown ();
  return status;
}
