/* git-nearby: browse and resolve — what is advertised nearby. */
#include "config.h"

#include <glib-unix.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "browser.h"
#include "commands.h"
#include "complete.h"
#include "identity.h"
#include "json.h"
#include "name.h"
#include "nearby-error.h"
#include "pins.h"
#include "project.h"
#include "untrusted.h"
#include "url.h"

/* The remotes of the current repository pinned to @s: those whose key is
 * @s's and whose URL asks for @s's name (or its end). */
static GPtrArray *
pinned_remotes (GPtrArray *pins, const NearbyService *s)
{
  GPtrArray *remotes = g_ptr_array_new ();

  for (guint i = 0; pins != NULL && i < pins->len; i++)
    {
      const NearbyPin *pin = pins->pdata[i];
      gsize n = strlen (pin->name), m = strlen (s->name);

      if (g_strcmp0 (s->key, pin->key) != 0)
        continue;
      if (strcmp (s->name, pin->name) == 0
          || (m > n && s->name[m - n - 1] == '/' && strcmp (s->name + m - n, pin->name) == 0))
        g_ptr_array_add (remotes, pin->remote);
    }
  return remotes;
}

/* "5 min", "3 h", "2 d": how long ago @date was; "-" when not known. */
static char *
age_of (gint64 date)
{
  gint64 ago = g_get_real_time () / G_USEC_PER_SEC - date;

  if (date <= 0)
    return g_strdup ("-");
  if (ago < 60)
    return g_strdup ("now");
  if (ago < 3600)
    return g_strdup_printf ("%" G_GINT64_FORMAT " min", ago / 60);
  if (ago < 86400)
    return g_strdup_printf ("%" G_GINT64_FORMAT " h", ago / 3600);
  if (ago < 86400 * 60)
    return g_strdup_printf ("%" G_GINT64_FORMAT " d", ago / 86400);
  if (ago < 86400 * 730)
    return g_strdup_printf ("%" G_GINT64_FORMAT " mo", ago / (86400 * 30));
  return g_strdup_printf ("%" G_GINT64_FORMAT " y", ago / (86400 * 365));
}

/* The documented object of `browse --json` (see git-nearby(1)). */
static void
add_json_object (JsonBuilder *builder, const NearbyService *s, const char *event, GPtrArray *pins,
                 GHashTable *roots, gboolean in_repository)
{
  const struct
  {
    const char *key;
    const char *value;
  } fields[] = {
    { "name", s->name },       { "host", s->host },     { "address", s->address },
    { "url", s->url },         { "branch", s->branch }, { "head", s->head },
    { "repo", s->repo },       { "key", s->key },       { "owner", s->owner },
    { "subject", s->subject },
  };
  g_autoptr (GPtrArray) remotes = pinned_remotes (pins, s);

  json_builder_begin_object (builder);
  if (event != NULL)
    nearby_json_add_string (builder, "event", event);
  for (gsize i = 0; i < G_N_ELEMENTS (fields); i++)
    {
      nearby_json_add_string (builder, fields[i].key, fields[i].value);
      /* the port goes after the address, as documented */
      if (g_str_equal (fields[i].key, "address"))
        {
          json_builder_set_member_name (builder, "port");
          json_builder_add_int_value (builder, s->port);
        }
    }
  json_builder_set_member_name (builder, "date");
  if (s->date > 0)
    json_builder_add_int_value (builder, s->date);
  else
    json_builder_add_null_value (builder);
  /* null outside a repository: there is no project to be in */
  json_builder_set_member_name (builder, "project");
  if (!in_repository)
    json_builder_add_null_value (builder);
  else
    json_builder_add_boolean_value (builder, nearby_project_has (roots, s));
  json_builder_set_member_name (builder, "pinned");
  json_builder_begin_array (builder);
  for (guint i = 0; i < remotes->len; i++)
    nearby_json_add_string (builder, NULL, remotes->pdata[i]);
  json_builder_end_array (builder);
  json_builder_end_object (builder);
}

/* Pads by characters, not bytes, so that UTF-8 names line up. @text is
 * already escaped (valid UTF-8, no controls). */
static void
print_cell (const char *text, glong width)
{
  fputs (text, stdout);
  for (glong n = g_utf8_strlen (text, -1); n < width; n++)
    putchar (' ');
}

enum
{
  COL_NAME,
  COL_HOST,
  COL_OWNER,
  COL_KEY,
  COL_BRANCH,
  COL_HEAD,
  COL_AGE,
  COL_SUBJECT,
  COL_URL,
  COL_PINNED,
  N_COLUMNS
};

/* The subject as the table shows it: escaped, at most 40 characters. */
static char *
subject_cell (const char *subject)
{
  g_autofree char *shown = nearby_untrusted_escape (subject != NULL ? subject : "-");

  if (g_utf8_strlen (shown, -1) <= 40)
    return g_steal_pointer (&shown);
  *g_utf8_offset_to_pointer (shown, 39) = '\0';
  return g_strconcat (shown, "\u2026", NULL);
}

/* The cells of @s's row, as a terminal may show them: every value came
 * from the network, and a raw ESC, CR or LF in it would act, not show. */
static void
row_cells (const NearbyService *s, GPtrArray *pins, char *cells[N_COLUMNS])
{
  g_autofree char *head = s->head != NULL ? g_strndup (s->head, 7) : g_strdup ("-");
  g_autofree char *code = s->key != NULL ? nearby_key_short_code (s->key) : g_strdup ("-");
  g_autoptr (GPtrArray) remotes = pinned_remotes (pins, s);

  g_ptr_array_add (remotes, NULL);
  cells[COL_NAME] = nearby_untrusted_escape (s->name);
  cells[COL_HOST] = nearby_untrusted_escape (s->host);
  cells[COL_OWNER] = nearby_untrusted_escape (s->owner != NULL ? s->owner : "-");
  cells[COL_KEY] = g_strdup (code);
  cells[COL_BRANCH] = nearby_untrusted_escape (s->branch);
  cells[COL_HEAD] = nearby_untrusted_escape (head);
  cells[COL_AGE] = age_of (s->date);
  cells[COL_SUBJECT] = subject_cell (s->subject);
  cells[COL_URL] = nearby_untrusted_escape (s->url);
  /* Remote names are the user's own. */
  cells[COL_PINNED] = remotes->len > 1 ? g_strjoinv (",", (char **) remotes->pdata) : g_strdup ("");
}

/* One table; inside a project, its branches first, then a blank line and
 * the rest (@first_others: the index of the first of the rest). */
static void
print_table (GPtrArray *services, GPtrArray *pins, guint first_others)
{
  const char *headers[N_COLUMNS]
      = { "NAME", "HOST", "OWNER", "KEY", "BRANCH", "HEAD", "AGE", "SUBJECT", "URL", "PINNED" };
  /* The PINNED column only in a repository with pinned remotes. */
  guint columns = pins->len > 0 ? N_COLUMNS : COL_PINNED;
  glong widths[N_COLUMNS] = { 0 };
  g_autoptr (GPtrArray) rows = g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);

  for (guint c = 0; c < columns; c++)
    widths[c] = strlen (headers[c]);
  for (guint i = 0; i < services->len; i++)
    {
      char **cells = g_new0 (char *, N_COLUMNS + 1);

      row_cells (services->pdata[i], pins, cells);
      for (guint c = 0; c < columns; c++)
        widths[c] = MAX (widths[c], g_utf8_strlen (cells[c], -1));
      g_ptr_array_add (rows, cells);
    }
  for (guint c = 0; c < columns; c++)
    print_cell (headers[c], c + 1 < columns ? widths[c] + 2 : 0);
  putchar ('\n');
  for (guint i = 0; i < rows->len; i++)
    {
      char **cells = rows->pdata[i];

      if (i == first_others && i > 0)
        putchar ('\n');
      for (guint c = 0; c < columns; c++)
        print_cell (cells[c], c + 1 < columns ? widths[c] + 2 : 0);
      putchar ('\n');
    }
}

typedef struct
{
  gboolean json;
  GPtrArray *pins;
  GHashTable *roots;
  gboolean in_repository;
  gboolean only_project;
} WatchOptions;

static void
on_event (NearbyBrowseEvent event, const NearbyService *s, gpointer user_data)
{
  WatchOptions *options = user_data;
  const char *word = event == NEARBY_BROWSE_APPEARED  ? "appeared"
                     : event == NEARBY_BROWSE_CHANGED ? "changed"
                                                      : "vanished";

  /* The watch goes on as it began: one line per event (a lost
   * avahi-daemon is warned of). */
  if (event == NEARBY_BROWSE_COMPLETE || event == NEARBY_BROWSE_LOST)
    return;

  /* A branch whose record changes its root leaves or joins the project;
   * --project shows its events either way while it was shown (vanished
   * has no record to go by). */
  if (options->only_project && event != NEARBY_BROWSE_VANISHED
      && !nearby_project_has (options->roots, s))
    return;

  if (options->json)
    {
      g_autoptr (JsonBuilder) builder = json_builder_new ();
      g_autoptr (JsonNode) root = NULL;
      g_autoptr (GString) out = g_string_new (NULL);

      add_json_object (builder, s, word, options->pins, options->roots, options->in_repository);
      root = json_builder_get_root (builder);
      nearby_json_append (out, root);
      printf ("%s\n", out->str);
    }
  else
    {
      g_auto (GStrv) cells = g_new0 (char *, N_COLUMNS + 1);

      row_cells (s, options->pins, cells);
      if (event == NEARBY_BROWSE_VANISHED)
        printf ("%-9s %s on %s\n", word, cells[COL_NAME], cells[COL_HOST]);
      else
        printf ("%-9s %s on %s  %s  %s  owner %s  key %s%s%s\n", word, cells[COL_NAME],
                cells[COL_HOST], cells[COL_HEAD], cells[COL_URL], cells[COL_OWNER], cells[COL_KEY],
                *cells[COL_PINNED] != '\0' ? "  pinned by " : "", cells[COL_PINNED]);
    }
  fflush (stdout);
}

static gboolean
on_interrupt (gpointer user_data)
{
  g_cancellable_cancel (user_data);
  return G_SOURCE_REMOVE;
}

/* This project's services first (keeping the order by name and host), or
 * only those with @only; returns where the others start. */
static guint
project_first (GPtrArray *services, GHashTable *roots, gboolean only)
{
  g_autoptr (GPtrArray) others = g_ptr_array_new ();
  guint k = 0, first_others;

  for (guint i = 0; i < services->len; i++)
    {
      if (nearby_project_has (roots, services->pdata[i]))
        services->pdata[k++] = services->pdata[i];
      else if (only)
        nearby_service_free (services->pdata[i]);
      else
        g_ptr_array_add (others, services->pdata[i]);
    }
  first_others = k;
  for (guint i = 0; i < others->len; i++)
    services->pdata[k++] = others->pdata[i];
  /* The pointers moved, none freed twice. */
  services->len = k;
  return first_others;
}

/* browse --names: the names nearby as completion offers them, from the
 * cache while it is fresh, else from a browse of at most @timeout_ms that
 * refreshes it. A browse that fails (no avahi-daemon) finds nothing, and
 * that is cached too: TAB must not wait for it again and again. */
static gboolean
print_names (const char *prefix, guint timeout_ms)
{
  g_autofree char *cache = nearby_complete_cache_path ();
  const char *env = g_getenv ("GIT_NEARBY_COMPLETE_CACHE");
  guint64 max_age = NEARBY_COMPLETE_CACHE_SECONDS;
  g_auto (GStrv) seen = NULL; /* "NAME\tHOST" lines */
  g_auto (GStrv) shown = NULL;

  /* Seconds; tests keep their list for as long as they run. */
  if (env != NULL && !g_ascii_string_to_unsigned (env, 10, 0, 86400, &max_age, NULL))
    max_age = NEARBY_COMPLETE_CACHE_SECONDS;
  seen = nearby_complete_cache_read (cache, (guint) max_age);

  if (seen == NULL)
    {
      g_autoptr (GError) local_error = NULL;
      g_autoptr (GPtrArray) services = nearby_browse_briefly (timeout_ms, &local_error);
      g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();

      if (services == NULL)
        g_debug ("nothing to complete: %s", local_error->message);
      for (guint i = 0; services != NULL && i < services->len; i++)
        {
          const NearbyService *s = services->pdata[i];
          g_autofree char *line = g_strconcat (s->name, "\t", s->host, NULL);

          g_strv_builder_add (builder, line);
        }
      seen = g_strv_builder_end (builder);
      g_clear_error (&local_error);
      if (!nearby_complete_cache_write (cache, (const char *const *) seen, &local_error))
        g_debug ("the completion cache is not written: %s", local_error->message);
    }
  shown = nearby_complete_offers ((const char *const *) seen, g_strv_length (seen), prefix);
  for (gsize i = 0; shown[i] != NULL; i++)
    printf ("%s\n", shown[i]);
  return TRUE;
}

gboolean
nearby_cmd_browse (int argc, char **argv, GError **error)
{
  gboolean json = FALSE, watch = FALSE, project = FALSE, names = FALSE;
  g_autoptr (GSubprocess) roots_child = NULL;
  g_autoptr (GHashTable) roots = NULL;
  guint first_others;
  double timeout = NAN; /* not given */
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (GPtrArray) services = NULL;
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  WatchOptions options = { 0 };
  g_autoptr (GPtrArray) pins = NULL;
  guint timeout_ms;
  const GOptionEntry entries[]
      = { { "json", 0, 0, G_OPTION_ARG_NONE, &json,
            "Print a JSON array (with --watch: one object per event and line)", NULL },
          { "watch", 'w', 0, G_OPTION_ARG_NONE, &watch,
            "Keep watching: print branches as they appear, change and vanish", NULL },
          { "timeout", 't', 0, G_OPTION_ARG_DOUBLE, &timeout,
            "Wait at most SECONDS (default 5; with --watch, no limit)", "SECONDS" },
          { "project", 'p', 0, G_OPTION_ARG_NONE, &project,
            "Only the branches of this project (the current repository's root commits)", NULL },
          { "names", 0, 0, G_OPTION_ARG_NONE, &names,
            "Print each name once per line, those starting with PREFIX (for shell completion)",
            NULL },
          { NULL } };

  context = g_option_context_new (NULL);
  g_option_context_set_summary (context, "List the branches advertised on the local network.");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!nearby_cmd_parse (context, &argc, &argv, error))
    return FALSE;
  if (names && !json && !watch && !project && argc <= 2)
    {
      if (!isnan (timeout) && (timeout <= 0 || timeout > 60))
        {
          g_set_error (error, NEARBY_ERROR, NEARBY_ERROR_INVALID,
                       "--timeout %g: not a number of seconds up to 60", timeout);
          return FALSE;
        }
      return print_names (argc == 2 ? argv[1] : NULL, isnan (timeout)
                                                          ? NEARBY_COMPLETE_BROWSE_TIMEOUT_MS
                                                          : (guint) (timeout * 1000));
    }
  if (argc > 1 || names)
    {
      g_set_error_literal (error, NEARBY_ERROR, NEARBY_ERROR_INVALID,
                           "usage: git nearby browse [--json] [--watch] [--project] [--timeout "
                           "SECONDS], or browse --names [--timeout SECONDS] [PREFIX]");
      return FALSE;
    }
  if (isnan (timeout))
    timeout = watch ? 0 : NEARBY_BROWSE_DEFAULT_TIMEOUT_MS / 1000.0;
  if (timeout < 0 || timeout > 86400)
    {
      g_set_error (error, NEARBY_ERROR, NEARBY_ERROR_INVALID,
                   "--timeout %g: not a number of seconds", timeout);
      return FALSE;
    }
  timeout_ms = (guint) (timeout * 1000);

  /* Outside a repository: none, and no marks. */
  pins = nearby_pins_of_repository ();
  roots_child = nearby_project_roots_start ();
  if (watch)
    {
      /* Events name their project from the start. */
      roots = nearby_project_roots_finish (roots_child);
      g_clear_object (&roots_child);
    }
  if (project && roots == NULL && (watch || roots_child == NULL))
    {
      g_set_error_literal (
          error, NEARBY_ERROR, NEARBY_ERROR_INVALID,
          "--project: not in a repository with commits; run it inside the project");
      return FALSE;
    }
  options.json = json;
  options.pins = pins;
  options.roots = roots;
  options.in_repository = roots != NULL;
  options.only_project = project;
  if (watch)
    {
      g_unix_signal_add (SIGINT, on_interrupt, cancellable);
      g_unix_signal_add (SIGTERM, on_interrupt, cancellable);
    }
  services
      = nearby_browse (timeout_ms, watch, watch ? on_event : NULL, &options, cancellable, error);
  if (services == NULL)
    return FALSE;
  if (watch)
    return TRUE;
  if (roots_child != NULL)
    roots = nearby_project_roots_finish (roots_child);
  if (project && roots == NULL)
    {
      g_set_error_literal (
          error, NEARBY_ERROR, NEARBY_ERROR_INVALID,
          "--project: not in a repository with commits; run it inside the project");
      return FALSE;
    }
  first_others = project_first (services, roots, project);

  if (json)
    {
      g_autoptr (JsonBuilder) builder = json_builder_new ();
      g_autoptr (JsonNode) root = NULL;
      g_autoptr (GString) out = g_string_new (NULL);

      json_builder_begin_array (builder);
      for (guint i = 0; i < services->len; i++)
        add_json_object (builder, services->pdata[i], NULL, pins, roots, roots != NULL);
      json_builder_end_array (builder);
      root = json_builder_get_root (builder);
      nearby_json_append_list (out, root);
      fputs (out->str, stdout);
    }
  else if (services->len == 0)
    printf (project ? "No branch of this project is advertised nearby.\n"
                    : "No branch is advertised nearby.\n");
  else
    print_table (services, pins, first_others);
  return TRUE;
}

gboolean
nearby_cmd_resolve (int argc, char **argv, GError **error)
{
  double timeout = NEARBY_BROWSE_DEFAULT_TIMEOUT_MS / 1000.0;
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (NearbyService) service = NULL;
  g_auto (NearbyUrl) url = { 0 };
  NearbyPick pick = { 0 };
  const GOptionEntry entries[] = { { "timeout", 't', 0, G_OPTION_ARG_DOUBLE, &timeout,
                                     "Wait at most SECONDS (default 5)", "SECONDS" },
                                   { NULL } };

  context = g_option_context_new ("NAME[@WHO]");
  g_option_context_set_summary (
      context, "Print the URL of the branch advertised nearby as NAME (by WHO: a host,\n"
               "an owner, a key's short code or URL form). A NAME that matches no\n"
               "branch exactly may be the end of one: fix-login finds myproj/fix-login\n"
               "if no other name ends so. A direct nearby://KEY@HOST:PORT/NAME is\n"
               "printed as its http:// URL, without looking.");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!nearby_cmd_parse (context, &argc, &argv, error))
    return FALSE;
  if (argc != 2)
    {
      g_set_error_literal (error, NEARBY_ERROR, NEARBY_ERROR_INVALID,
                           "usage: git nearby resolve NAME[@HOST]");
      return FALSE;
    }
  if (timeout <= 0 || timeout > 3600)
    {
      g_set_error (error, NEARBY_ERROR, NEARBY_ERROR_INVALID,
                   "--timeout %g: not a number of seconds", timeout);
      return FALSE;
    }
  if (!nearby_url_parse (argv[1], &url, error))
    return FALSE;
  if (url.key != NULL)
    {
      g_autofree char *path = nearby_name_to_path (url.name);
      g_autofree char *http = nearby_url_build ("http", url.host, url.ifname, url.port, path);
      g_autofree char *shown = nearby_untrusted_escape (http);

      printf ("%s\n", shown);
      return TRUE;
    }
  pick.who = url.who;
  service = nearby_resolve (url.name, &pick, (guint) (timeout * 1000), error);
  if (service == NULL)
    return FALSE;
  {
    g_autofree char *shown = nearby_untrusted_escape (service->url);

    printf ("%s\n", shown);
  }
  return TRUE;
}
