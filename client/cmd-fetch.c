/* git-nearby: fetch — every nearby branch of this project, into
 * refs/remotes/nearby/<owner>/<name>. */
#include "config.h"

#include <git2.h>
#include <stdio.h>
#include <string.h>

#include "browser.h"
#include "commands.h"
#include "identity.h"
#include "name.h"
#include "nearby-error.h"
#include "project.h"
#include "untrusted.h"
#include "url.h"

#define REFS_PREFIX "refs/remotes/nearby/"

static gboolean
ref_name_is_valid (const char *ref)
{
  int valid = 0;

  return git_reference_name_is_valid (&valid, ref) == 0 && valid;
}

/* The refs under refs/remotes/nearby/ now, each with its commit: one git
 * for-each-ref, not one rev-parse per branch. */
static GHashTable *
nearby_refs (void)
{
  const char *argv[]
      = { "git", "for-each-ref", "--format=%(refname) %(objectname)", REFS_PREFIX, NULL };
  GHashTable *refs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autofree char *out = NULL;
  g_auto (GStrv) lines = NULL;
  int status = 0;

  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL,
                     NULL, NULL, &out, NULL, &status, NULL)
      || !g_spawn_check_wait_status (status, NULL))
    return refs;
  lines = g_strsplit (out, "\n", -1);
  for (char **line = lines; *line != NULL; line++)
    {
      char *space = strchr (*line, ' ');

      if (space != NULL)
        g_hash_table_insert (refs, g_strndup (*line, space - *line), g_strdup (space + 1));
    }
  return refs;
}

/* Runs git with @argv, its output and progress on the terminal. */
static gboolean
run_git (const char *const *argv)
{
  int status = 0;

  fflush (stdout);
  return g_spawn_sync (NULL, (char **) argv, NULL,
                       G_SPAWN_SEARCH_PATH | G_SPAWN_CHILD_INHERITS_STDIN, NULL, NULL, NULL, NULL,
                       &status, NULL)
         && g_spawn_check_wait_status (status, NULL);
}

/* Where git fetches @s from: the direct nearby://KEY@ADDRESS:PORT/NAME, so
 * that the TLS handshake is held to the key the service announced (no
 * second lookup that anyone could answer); a server without a key over
 * plain http. */
static char *
fetch_url (const NearbyService *s)
{
  g_autofree char *path = nearby_name_to_path (s->name);
  g_autofree char *form = NULL;

  if (s->key == NULL || (form = nearby_key_to_url_form (s->key)) == NULL)
    return g_strdup (s->url);
  return nearby_url_build_direct (form, s->address, s->ifname, s->port, path);
}

typedef struct
{
  NearbyService *service; /* borrowed */
  char *ref;
} Wanted;

static void
wanted_free (Wanted *w)
{
  g_free (w->ref);
  g_free (w);
}

gboolean
nearby_cmd_fetch (int argc, char **argv, GError **error)
{
  gboolean prune = FALSE;
  double timeout = NEARBY_BROWSE_DEFAULT_TIMEOUT_MS / 1000.0;
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (GSubprocess) roots_child = NULL;
  g_autoptr (GHashTable) roots = NULL;
  g_autoptr (GPtrArray) services = NULL;
  g_autoptr (GPtrArray) wanted = g_ptr_array_new_with_free_func ((GDestroyNotify) wanted_free);
  g_autoptr (GHashTable) refs = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (NearbyIdentity) own = NULL;
  g_autofree char *own_path = nearby_identity_path ();
  g_autoptr (GHashTable) before = NULL;
  g_autoptr (GHashTable) after = NULL;
  g_autoptr (GPtrArray) fetched = g_ptr_array_new ();
  guint fresh = 0, updated = 0, same = 0, failed = 0, pruned = 0;
  const GOptionEntry entries[]
      = { { "prune", 0, 0, G_OPTION_ARG_NONE, &prune,
            "Delete the refs of branches no longer advertised nearby", NULL },
          { "timeout", 't', 0, G_OPTION_ARG_DOUBLE, &timeout,
            "Look for branches for at most SECONDS (default 5)", "SECONDS" },
          { NULL } };

  context = g_option_context_new (NULL);
  g_option_context_set_summary (
      context, "Fetch every branch of this project advertised nearby (those with the same root\n"
               "commit) into refs/remotes/nearby/OWNER/NAME, each held to its server's key.");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!nearby_cmd_parse (context, &argc, &argv, error))
    return FALSE;
  if (argc > 1)
    {
      g_set_error_literal (error, NEARBY_ERROR, NEARBY_ERROR_INVALID,
                           "usage: git nearby fetch [--prune] [--timeout SECONDS]");
      return FALSE;
    }
  if (timeout <= 0 || timeout > 3600)
    {
      g_set_error (error, NEARBY_ERROR, NEARBY_ERROR_INVALID,
                   "--timeout %g: not a number of seconds", timeout);
      return FALSE;
    }

  roots_child = nearby_project_roots_start ();
  services = nearby_browse ((guint) (timeout * 1000), FALSE, NULL, NULL, NULL, error);
  if (services == NULL)
    return FALSE;
  if ((roots = nearby_project_roots_finish (roots_child)) == NULL)
    {
      g_set_error_literal (error, NEARBY_ERROR, NEARBY_ERROR_INVALID,
                           "not in a repository with commits; run git nearby fetch inside the "
                           "project");
      return FALSE;
    }
  /* This user's own server's branches are theirs already. */
  own = nearby_identity_load (own_path, FALSE, NULL);

  for (guint i = 0; i < services->len; i++)
    {
      NearbyService *s = services->pdata[i];
      g_autofree char *owner = nearby_project_ref_component (s->owner != NULL ? s->owner : s->host);
      g_autofree char *ref = NULL;
      Wanted *w;

      if (!nearby_project_has (roots, s) || (own != NULL && g_strcmp0 (s->key, own->key) == 0))
        continue;
      if (*owner == '\0')
        {
          g_free (owner);
          owner = g_strdup ("unknown");
        }
      ref = g_strconcat (REFS_PREFIX, owner, "/", s->name, NULL);
      /* One owner's two servers with the same name: the key tells them apart. */
      if (g_hash_table_contains (refs, ref) && s->key != NULL)
        {
          g_autofree char *code = nearby_key_short_code (s->key);

          g_free (ref);
          ref = g_strconcat (REFS_PREFIX, owner, "-", code, "/", s->name, NULL);
        }
      if (g_hash_table_contains (refs, ref) || !ref_name_is_valid (ref))
        {
          g_autofree char *shown = nearby_untrusted_escape (s->name);
          g_autofree char *host = nearby_untrusted_escape (s->host);

          fprintf (stderr, "git nearby fetch: skipping '%s' on %s: no ref name of its own\n", shown,
                   host);
          continue;
        }
      w = g_new0 (Wanted, 1);
      w->service = s;
      w->ref = g_steal_pointer (&ref);
      g_hash_table_add (refs, w->ref);
      g_ptr_array_add (wanted, w);
    }

  before = nearby_refs ();
  for (guint i = 0; i < wanted->len; i++)
    {
      Wanted *w = wanted->pdata[i];
      g_autofree char *url = fetch_url (w->service);
      g_autofree char *refspec = g_strconcat ("+HEAD:", w->ref, NULL);
      g_autofree char *shown = nearby_untrusted_escape (w->service->name);
      g_autofree char *owner = nearby_untrusted_escape (
          w->service->owner != NULL ? w->service->owner : w->service->host);
      const char *fetch[]
          = { "git", "fetch", "--no-tags", "--no-write-fetch-head", url, refspec, NULL };

      printf ("Fetching %s of %s into %s\n", shown, owner, w->ref);
      if (!run_git (fetch))
        {
          fprintf (stderr, "git nearby fetch: could not fetch '%s' of %s\n", shown, owner);
          failed++;
          continue;
        }
      g_ptr_array_add (fetched, w);
    }
  after = nearby_refs ();
  for (guint i = 0; i < fetched->len; i++)
    {
      const char *ref = ((Wanted *) fetched->pdata[i])->ref;
      const char *old = g_hash_table_lookup (before, ref);

      if (old == NULL)
        fresh++;
      else if (g_strcmp0 (old, g_hash_table_lookup (after, ref)) != 0)
        updated++;
      else
        same++;
    }

  if (prune)
    {
      GHashTableIter iter;
      gpointer ref;

      g_hash_table_iter_init (&iter, before);
      while (g_hash_table_iter_next (&iter, &ref, NULL))
        if (!g_hash_table_contains (refs, ref))
          {
            const char *del[] = { "git", "update-ref", "-d", ref, NULL };

            if (run_git (del))
              {
                printf ("Pruned %s\n", (char *) ref);
                pruned++;
              }
          }
    }

  printf ("git nearby fetch: %u branch%s of this project nearby: %u new, %u updated, %u up to date",
          wanted->len, wanted->len == 1 ? "" : "es", fresh, updated, same);
  if (failed > 0)
    printf (", %u failed", failed);
  if (prune)
    printf ("; %u pruned", pruned);
  printf ("\n");
  if (failed > 0)
    {
      g_set_error (error, NEARBY_ERROR, NEARBY_ERROR_FAILED, "%u of %u fetches failed", failed,
                   wanted->len);
      return FALSE;
    }
  return TRUE;
}
