/* git-nearby: advertise, unadvertise and status — the opt-in commands. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "complete.h"
#include "git-util.h"
#include "name.h"
#include "nearby-error.h"
#include "notify.h"
#include "opt-in.h"
#include "untrusted.h"

static git_repository *
open_current_repository (GError **error)
{
  git_repository *repo = NULL;

  if (git_repository_open_ext (&repo, ".", 0, NULL) < 0)
    {
      g_set_error_literal (error, NEARBY_ERROR, NEARBY_ERROR_INVALID,
                           "not in a git repository; run this inside the repository "
                           "whose branch you want to share");
      return NULL;
    }
  return repo;
}

/* The branch HEAD points at, born or not. */
static char *
current_branch (git_repository *repo, GError **error)
{
  g_autoptr (git_reference) head = NULL;
  const char *target;
  int rc;

  if ((rc = git_reference_lookup (&head, repo, "HEAD")) < 0)
    {
      nearby_git_error (error, rc, "cannot read HEAD");
      return NULL;
    }
  if (git_reference_type (head) != GIT_REFERENCE_SYMBOLIC
      || !g_str_has_prefix ((target = git_reference_symbolic_target (head)), "refs/heads/"))
    {
      g_set_error_literal (error, NEARBY_ERROR, NEARBY_ERROR_INVALID,
                           "HEAD is detached; name the branch to share with --branch BRANCH");
      return NULL;
    }
  return g_strdup (target + strlen ("refs/heads/"));
}

/* @branch must exist, or be the unborn branch HEAD points at. */
static gboolean
check_branch (git_repository *repo, const char *branch, GError **error)
{
  g_autoptr (git_reference) ref = NULL;
  g_autofree char *head_branch = NULL;
  int valid = 0;

  if (git_branch_name_is_valid (&valid, branch) < 0 || !valid)
    {
      g_set_error (error, NEARBY_ERROR, NEARBY_ERROR_INVALID, "'%s' is not a valid branch name",
                   branch);
      return FALSE;
    }
  if (git_branch_lookup (&ref, repo, branch, GIT_BRANCH_LOCAL) == 0)
    return TRUE;

  head_branch = current_branch (repo, NULL);
  if (head_branch != NULL && strcmp (head_branch, branch) == 0
      && git_repository_head_unborn (repo) == 1)
    return TRUE;

  g_set_error (error, NEARBY_ERROR, NEARBY_ERROR_NOT_FOUND,
               "there is no branch '%s' in this repository", branch);
  return FALSE;
}

static gboolean
branch_exists (git_repository *repo, const char *branch)
{
  g_autoptr (git_reference) ref = NULL;

  return git_branch_lookup (&ref, repo, branch, GIT_BRANCH_LOCAL) == 0;
}

static NearbyOptIn *
find_opt_in (GPtrArray *opt_ins, const char *branch, const char *name)
{
  for (guint i = 0; i < opt_ins->len; i++)
    {
      NearbyOptIn *opt_in = opt_ins->pdata[i];

      if (branch != NULL && strcmp (opt_in->branch, branch) == 0)
        return opt_in;
      if (name != NULL && g_strcmp0 (opt_in->name, name) == 0)
        return opt_in;
    }
  return NULL;
}

/* Tells running servers at once, and the user what the one in this
 * session does now (or that none is listening). */
static void
print_notice (git_repository *repo, const char *branch, NearbyNotifyChange change)
{
  g_autofree char *notice = nearby_notify_servers (repo, branch, change);

  if (notice != NULL)
    printf ("%s\n", notice);
}

gboolean
nearby_cmd_advertise (int argc, char **argv, GError **error)
{
  g_autofree char *branch = NULL;
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (git_repository) repo = NULL;
  g_autoptr (git_config) config = NULL;
  g_autoptr (GPtrArray) opt_ins = NULL;
  g_autofree char *repo_name = NULL;
  g_autofree char *name = NULL;
  g_autofree char *key = NULL;
  NearbyOptIn *taken;
  gboolean branch_given;
  int rc;
  const GOptionEntry entries[] = { { "branch", 'b', 0, G_OPTION_ARG_STRING, &branch,
                                     "Advertise BRANCH instead of the current one", "BRANCH" },
                                   { NULL } };

  context = g_option_context_new ("[NAME]");
  g_option_context_set_summary (context,
                                "Share a branch of this repository with git-nearby servers.\n"
                                "NAME defaults to <repository>/<branch>.");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!nearby_cmd_parse (context, &argc, &argv, error))
    return FALSE;
  if (argc > 2)
    {
      g_set_error (error, NEARBY_ERROR, NEARBY_ERROR_INVALID,
                   "too many arguments; usage: git nearby advertise [NAME] [--branch BRANCH]");
      return FALSE;
    }

  branch_given = branch != NULL;
  if ((repo = open_current_repository (error)) == NULL)
    return FALSE;
  if (branch == NULL && (branch = current_branch (repo, error)) == NULL)
    return FALSE;
  if (!check_branch (repo, branch, error))
    return FALSE;

  repo_name = nearby_git_repo_name (repo);
  if (argc == 2)
    {
      name = g_strdup (argv[1]);
      if (!nearby_name_validate (name, error))
        return FALSE;
      if (nearby_opt_in_name_is_boolean (name))
        {
          g_set_error (error, NEARBY_ERROR, NEARBY_ERROR_INVALID,
                       "'%s' reads as a boolean in git config; choose another name", name);
          return FALSE;
        }
    }
  else if ((name = nearby_name_default (repo_name, branch, error)) == NULL)
    return FALSE;

  if ((opt_ins = nearby_opt_ins_read (repo, error)) == NULL)
    return FALSE;
  taken = find_opt_in (opt_ins, NULL, name);
  if (taken != NULL && strcmp (taken->branch, branch) != 0)
    {
      g_set_error (error, NEARBY_ERROR, NEARBY_ERROR_EXISTS,
                   "the name '%s' is already advertised for branch '%s'; choose another name", name,
                   taken->branch);
      return FALSE;
    }

  if ((config = nearby_opt_in_local_config (repo, error)) == NULL)
    return FALSE;
  key = nearby_opt_in_key (branch);
  /* `true` keeps the default name following the directory if it is renamed. */
  rc = git_config_set_string (config, key, argc == 2 ? name : "true");
  if (rc < 0)
    return nearby_git_error (error, rc, "cannot write %s", key);

  printf ("Advertising branch '%s' as '%s'.\n", branch, name);
  print_notice (repo, branch, NEARBY_NOTIFY_ADVERTISED);
  if (argc == 2 && !branch_given && strcmp (name, branch) != 0 && branch_exists (repo, name))
    {
      g_autofree char *quoted = g_shell_quote (name);
      g_autofree char *shown = nearby_untrusted_escape (quoted);

      /* `advertise fix` run to share the branch fix advertises the current
       * branch under the name "fix". */
      fflush (stdout);
      fprintf (stderr,
               "hint: %s is also a branch of this repository; to advertise that branch instead,\n"
               "hint: run: git nearby unadvertise %s && git nearby advertise --branch %s\n",
               shown, shown, shown);
    }
  return TRUE;
}

gboolean
nearby_cmd_unadvertise (int argc, char **argv, GError **error)
{
  g_autofree char *branch = NULL;
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (git_repository) repo = NULL;
  g_autoptr (git_config) config = NULL;
  g_autoptr (GPtrArray) opt_ins = NULL;
  g_autofree char *key = NULL;
  NearbyOptIn *opt_in;
  int rc;
  const GOptionEntry entries[]
      = { { "branch", 'b', 0, G_OPTION_ARG_STRING, &branch, "Stop advertising BRANCH", "BRANCH" },
          { NULL } };

  context = g_option_context_new ("[NAME | --branch BRANCH]");
  g_option_context_set_summary (context,
                                "Stop sharing a branch: by its advertised NAME, by --branch,\n"
                                "or the current branch.");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!nearby_cmd_parse (context, &argc, &argv, error))
    return FALSE;
  if (argc > 2 || (argc == 2 && branch != NULL))
    {
      g_set_error (error, NEARBY_ERROR, NEARBY_ERROR_INVALID,
                   "usage: git nearby unadvertise [NAME | --branch BRANCH]");
      return FALSE;
    }

  if ((repo = open_current_repository (error)) == NULL)
    return FALSE;
  if ((opt_ins = nearby_opt_ins_read (repo, error)) == NULL)
    return FALSE;

  if (argc == 2)
    {
      opt_in = find_opt_in (opt_ins, NULL, argv[1]);
      if (opt_in == NULL)
        {
          g_set_error (error, NEARBY_ERROR, NEARBY_ERROR_NOT_FOUND,
                       "no branch of this repository is advertised as '%s'", argv[1]);
          return FALSE;
        }
    }
  else
    {
      if (branch == NULL && (branch = current_branch (repo, error)) == NULL)
        return FALSE;
      opt_in = find_opt_in (opt_ins, branch, NULL);
      if (opt_in == NULL)
        {
          g_set_error (error, NEARBY_ERROR, NEARBY_ERROR_NOT_FOUND, "branch '%s' is not advertised",
                       branch);
          return FALSE;
        }
    }

  if ((config = nearby_opt_in_local_config (repo, error)) == NULL)
    return FALSE;
  key = nearby_opt_in_key (opt_in->branch);
  rc = git_config_delete_multivar (config, key, ".*");
  if (rc < 0)
    return nearby_git_error (error, rc, "cannot remove %s", key);

  printf ("No longer advertising branch '%s' (was '%s').\n", opt_in->branch,
          opt_in->name != NULL ? opt_in->name : opt_in->branch);
  print_notice (repo, opt_in->branch, NEARBY_NOTIFY_UNADVERTISED);
  return TRUE;
}

gboolean
nearby_cmd_status (int argc, char **argv, GError **error)
{
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (git_repository) repo = NULL;
  g_autoptr (GPtrArray) opt_ins = NULL;
  gboolean names = FALSE;
  const GOptionEntry entries[]
      = { { "names", 0, 0, G_OPTION_ARG_NONE, &names,
            "Print each advertised name once per line, those starting with PREFIX (for shell "
            "completion)",
            NULL },
          { NULL } };

  context = g_option_context_new (NULL);
  g_option_context_set_summary (context, "List the advertised branches of this repository.");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!nearby_cmd_parse (context, &argc, &argv, error))
    return FALSE;
  if (argc > (names ? 2 : 1))
    {
      g_set_error_literal (error, NEARBY_ERROR, NEARBY_ERROR_INVALID,
                           "usage: git nearby status [--names [PREFIX]]");
      return FALSE;
    }
  if ((repo = open_current_repository (error)) == NULL)
    return FALSE;
  if ((opt_ins = nearby_opt_ins_read (repo, error)) == NULL)
    return FALSE;

  if (names)
    {
      g_autoptr (GPtrArray) all = g_ptr_array_new ();
      g_auto (GStrv) shown = NULL;

      /* What unadvertise takes; the repository's own config, no network. */
      for (guint i = 0; i < opt_ins->len; i++)
        g_ptr_array_add (all, ((NearbyOptIn *) opt_ins->pdata[i])->name);
      shown = nearby_complete_offers ((const char *const *) all->pdata, all->len,
                                      argc == 2 ? argv[1] : NULL);
      for (gsize i = 0; shown[i] != NULL; i++)
        printf ("%s\n", shown[i]);
      return TRUE;
    }

  if (opt_ins->len == 0)
    {
      printf ("No branch of this repository is advertised. Share one with: git nearby advertise\n");
      return TRUE;
    }

  for (guint i = 0; i < opt_ins->len; i++)
    {
      NearbyOptIn *opt_in = opt_ins->pdata[i];
      g_autoptr (git_reference) ref = NULL;
      g_autoptr (git_commit) commit = NULL;
      g_autofree char *state = NULL;

      if (opt_in->problem != NULL)
        state = g_strdup_printf ("not served: %s", opt_in->problem);
      else if (git_branch_lookup (&ref, repo, opt_in->branch, GIT_BRANCH_LOCAL) < 0)
        state = g_strdup ("no commits yet");
      else if (git_commit_lookup (&commit, repo, git_reference_target (ref)) == 0)
        {
          char hex[8];

          git_oid_tostr (hex, sizeof hex, git_commit_id (commit));
          state = g_strdup_printf ("%s %s", hex, git_commit_summary (commit));
        }
      printf ("%s\tbranch %s\t%s\n", opt_in->name != NULL ? opt_in->name : "-", opt_in->branch,
              state != NULL ? state : "");
    }
  return TRUE;
}
