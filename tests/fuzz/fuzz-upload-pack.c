/* libFuzzer harness: the upload-pack request planner (server/upload-pack.c)
 * against a small real repository made once per process.
 *
 * The first input byte picks the case (bit 0: protocol v2; bit 1: the reach
 * set is not given, the planner asks for it as the server's planning job
 * is asked; bit 3: and that walk fails; bit 2: an unborn branch); the rest
 * is the body of POST git-upload-pack. Whatever the request, the plan must
 * hold the export boundary: pack-objects is fed only ids of commits
 * reachable from the advertised tip, never --include-tag, and the answer is
 * well-formed pkt-lines; the reach set is asked for once at most. */
#include <gio/gio.h>
#include <stdlib.h>

#include "fuzz-common.h"
#include "git-util.h"
#include "pkt-line.h"
#include "reach.h"
#include "upload-pack.h"

static char *repo_dir;
static git_repository *repo;
static NearbyReach *reach;
static git_oid tip;

static void
git_run (const char *first, ...)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autoptr (GError) error = NULL;
  int status = 0;
  va_list args;

  g_ptr_array_add (argv, "git");
  g_ptr_array_add (argv, "-C");
  g_ptr_array_add (argv, repo_dir);
  va_start (args, first);
  for (const char *a = first; a != NULL; a = va_arg (args, const char *))
    g_ptr_array_add (argv, (char *) a);
  va_end (args);
  g_ptr_array_add (argv, NULL);
  if (!g_spawn_sync (NULL, (char **) argv->pdata, NULL,
                     G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL, NULL,
                     &status, &error)
      || !g_spawn_check_wait_status (status, &error))
    g_error ("git %s: %s", first, error->message);
}

static void
commit (const char *file, const char *text)
{
  g_autofree char *path = g_build_filename (repo_dir, file, NULL);

  if (!g_file_set_contents (path, text, -1, NULL))
    g_error ("cannot write %s", path);
  git_run ("add", file, NULL);
  git_run ("commit", "-q", "-m", file, NULL);
}

static void
remove_repo (void)
{
  const char *argv[] = { "rm", "-rf", repo_dir, NULL };

  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, NULL,
                NULL);
}

/* A branch with a merge and an annotated tag in its history, and a private
 * branch beside it. Fixed dates and names: the ids are the same on every
 * machine, so the seed corpus can name real commits. */
static void
make_repository (void)
{
  g_autoptr (GError) error = NULL;

  g_setenv ("GIT_AUTHOR_NAME", "Fuzz", TRUE);
  g_setenv ("GIT_AUTHOR_EMAIL", "fuzz@example.com", TRUE);
  g_setenv ("GIT_AUTHOR_DATE", "1700000000 +0000", TRUE);
  g_setenv ("GIT_COMMITTER_NAME", "Fuzz", TRUE);
  g_setenv ("GIT_COMMITTER_EMAIL", "fuzz@example.com", TRUE);
  g_setenv ("GIT_COMMITTER_DATE", "1700000000 +0000", TRUE);
  g_setenv ("GIT_CONFIG_GLOBAL", "/dev/null", TRUE);
  g_setenv ("GIT_CONFIG_NOSYSTEM", "1", TRUE);

  repo_dir = g_dir_make_tmp ("nearby-fuzz-repo.XXXXXX", &error);
  g_assert_no_error (error);
  atexit (remove_repo);
  git_run ("init", "-q", "-b", "main", NULL);
  commit ("a", "one\n");
  git_run ("tag", "-a", "-m", "v1", "v1", NULL);
  commit ("b", "two\n");
  git_run ("checkout", "-q", "-b", "side", NULL);
  commit ("c", "side\n");
  git_run ("checkout", "-q", "main", NULL);
  commit ("d", "three\n");
  git_run ("merge", "-q", "--no-ff", "-m", "merge", "side", NULL);
  commit ("e", "four\n");
  git_run ("checkout", "-q", "-b", "private", "HEAD~2", NULL);
  commit ("secret", "private\n");
  git_run ("checkout", "-q", "main", NULL);

  nearby_git_init ();
  repo = nearby_git_open (repo_dir, &error);
  g_assert_no_error (error);
  g_assert (git_reference_name_to_id (&tip, repo, "refs/heads/main") == 0);
  reach = nearby_reach_new (repo, &tip, &error);
  g_assert_no_error (error);
}

/* As the server's job_reach(): the set of @oid, or an error. @data counts
 * the asks. */
static NearbyReach *
walk (gpointer data, const git_oid *oid, GError **error)
{
  ++*(guint *) data;
  g_assert (git_oid_equal (oid, &tip));
  return nearby_reach_ref (reach);
}

static NearbyReach *
walk_fails (gpointer data, const git_oid *oid, GError **error)
{
  ++*(guint *) data;
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, "the history cannot be read");
  return NULL;
}

/* Every line of pack-objects' input names the tip or a commit reachable
 * from it, however the planner came by the set (or did without it). */
static void
check_input (const NearbyPackPlan *plan)
{
  g_auto (GStrv) lines = g_strsplit (plan->input->str, "\n", -1);

  for (char **l = lines; *l != NULL; l++)
    {
      const char *hex = *l;
      git_oid oid;

      if (*hex == '\0' || strcmp (hex, "--not") == 0)
        continue;
      if (g_str_has_prefix (hex, "--shallow "))
        hex += strlen ("--shallow ");
      g_assert (nearby_oid_from_hex (&oid, hex, strlen (hex)));
      g_assert (git_oid_equal (&oid, &tip) || nearby_reach_contains (reach, &oid));
    }
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  NearbyUploadTarget target = { 0 };
  g_autoptr (NearbyPackPlan) plan = NULL;
  NearbyPktReader *reader;
  NearbyPktType type;
  guint asks = 0;
  gboolean v2;

  if (repo == NULL)
    make_repository ();
  if (size == 0)
    return 0;
  v2 = (data[0] & 1) != 0;

  target.repo = repo;
  if (data[0] & 4)
    {
      target.branch = "new";
      target.refname = "refs/heads/new";
      target.unborn = TRUE;
    }
  else
    {
      target.branch = "main";
      target.refname = "refs/heads/main";
      git_oid_cpy (&target.tip, &tip);
      if (data[0] & 2)
        {
          target.get_reach = (data[0] & 8) ? walk_fails : walk;
          target.reach_data = &asks;
        }
      else
        target.reach = nearby_reach_ref (reach);
    }

  {
    g_autoptr (GBytes) ad = nearby_upload_pack_advertise (&target, v2);

    g_assert (ad != NULL);
  }

  plan = nearby_upload_pack_plan (&target, v2, data + 1, size - 1);
  g_assert (plan != NULL && plan->preamble != NULL);
  g_assert_cmpuint (asks, <=, 1);

  /* What goes out before the pack is well-formed pkt-lines. */
  reader = g_new0 (NearbyPktReader, 1);
  nearby_pkt_reader_init (reader, plan->preamble->data, plan->preamble->len);
  for (gsize n = 0; n <= plan->preamble->len; n++)
    {
      g_autoptr (GError) error = NULL;

      g_assert (nearby_pkt_read (reader, &type, &error));
      if (type == NEARBY_PKT_EOF)
        break;
    }
  g_free (reader);

  if (plan->send_pack)
    {
      g_assert (!target.unborn);
      g_assert (plan->argv != NULL && plan->input != NULL);
      g_assert (plan->argv->len > 0 && plan->argv->pdata[plan->argv->len - 1] == NULL);
      for (guint i = 0; i + 1 < plan->argv->len; i++)
        {
          const char *arg = plan->argv->pdata[i];

          g_assert (arg != NULL);
          g_assert (strcmp (arg, "--include-tag") != 0 && strcmp (arg, "--all") != 0);
          g_assert (!g_str_has_prefix (arg, "--filter"));
        }
      check_input (plan);
    }
  g_clear_pointer (&target.reach, nearby_reach_unref);
  return 0;
}
