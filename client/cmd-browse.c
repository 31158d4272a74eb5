/* git-nearby: browse and resolve — what is advertised nearby. */
#include "config.h"

#include <glib-unix.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "browser.h"
#include "commands.h"
#include "json.h"
#include "name.h"
#include "nearby-error.h"
#include "untrusted.h"
#include "url.h"

/* The documented object of `browse --json` (see git-nearby(1)). */
static void
print_json_object (GString *out, const NearbyService *s, const char *event)
{
  const struct
  {
    const char *key;
    const char *value;
  } fields[] = {
    { "name", s->name },     { "host", s->host }, { "address", s->address }, { "url", s->url },
    { "branch", s->branch }, { "head", s->head }, { "repo", s->repo },
  };

  g_string_append (out, "{");
  if (event != NULL)
    g_string_append_printf (out, "\"event\": \"%s\", ", event);
  for (gsize i = 0; i < G_N_ELEMENTS (fields); i++)
    {
      g_string_append_printf (out, "%s\"%s\": ", i > 0 ? ", " : "", fields[i].key);
      nearby_json_string (out, fields[i].value);
      /* the port goes after the address, as documented */
      if (g_str_equal (fields[i].key, "address"))
        g_string_append_printf (out, ", \"port\": %u", s->port);
    }
  g_string_append (out, "}");
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

#define N_COLUMNS 5

/* The cells of @s's row, as a terminal may show them: every value came
 * from the network, and a raw ESC, CR or LF in it would act, not show. */
static void
row_cells (const NearbyService *s, char *cells[N_COLUMNS])
{
  g_autofree char *head = s->head != NULL ? g_strndup (s->head, 7) : g_strdup ("-");

  cells[0] = nearby_untrusted_escape (s->name);
  cells[1] = nearby_untrusted_escape (s->host);
  cells[2] = nearby_untrusted_escape (s->branch);
  cells[3] = nearby_untrusted_escape (head);
  cells[4] = nearby_untrusted_escape (s->url);
}

static void
print_table (GPtrArray *services)
{
  const char *headers[N_COLUMNS] = { "NAME", "HOST", "BRANCH", "HEAD", "URL" };
  glong widths[N_COLUMNS] = { 0 };
  g_autoptr (GPtrArray) rows = g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);

  for (guint c = 0; c < N_COLUMNS; c++)
    widths[c] = strlen (headers[c]);
  for (guint i = 0; i < services->len; i++)
    {
      char **cells = g_new0 (char *, N_COLUMNS + 1);

      row_cells (services->pdata[i], cells);
      for (guint c = 0; c < N_COLUMNS; c++)
        widths[c] = MAX (widths[c], g_utf8_strlen (cells[c], -1));
      g_ptr_array_add (rows, cells);
    }
  for (guint c = 0; c < N_COLUMNS; c++)
    print_cell (headers[c], c + 1 < N_COLUMNS ? widths[c] + 2 : 0);
  putchar ('\n');
  for (guint i = 0; i < rows->len; i++)
    {
      char **cells = rows->pdata[i];

      for (guint c = 0; c < N_COLUMNS; c++)
        print_cell (cells[c], c + 1 < N_COLUMNS ? widths[c] + 2 : 0);
      putchar ('\n');
    }
}

typedef struct
{
  gboolean json;
} WatchOptions;

static void
on_event (NearbyBrowseEvent event, const NearbyService *s, gpointer user_data)
{
  WatchOptions *options = user_data;
  const char *word = event == NEARBY_BROWSE_APPEARED  ? "appeared"
                     : event == NEARBY_BROWSE_CHANGED ? "changed"
                                                      : "vanished";

  if (options->json)
    {
      g_autoptr (GString) out = g_string_new (NULL);

      print_json_object (out, s, word);
      printf ("%s\n", out->str);
    }
  else
    {
      g_auto (GStrv) cells = g_new0 (char *, N_COLUMNS + 1);

      row_cells (s, cells);
      if (event == NEARBY_BROWSE_VANISHED)
        printf ("%-9s %s on %s\n", word, cells[0], cells[1]);
      else
        printf ("%-9s %s on %s  %s  %s\n", word, cells[0], cells[1], cells[3], cells[4]);
    }
  fflush (stdout);
}

static gboolean
on_interrupt (gpointer user_data)
{
  g_cancellable_cancel (user_data);
  return G_SOURCE_REMOVE;
}

gboolean
nearby_cmd_browse (int argc, char **argv, GError **error)
{
  gboolean json = FALSE, watch = FALSE;
  double timeout = NAN; /* not given */
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (GPtrArray) services = NULL;
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  WatchOptions options = { 0 };
  guint timeout_ms;
  const GOptionEntry entries[]
      = { { "json", 0, 0, G_OPTION_ARG_NONE, &json,
            "Print a JSON array (with --watch: one object per event and line)", NULL },
          { "watch", 'w', 0, G_OPTION_ARG_NONE, &watch,
            "Keep watching: print branches as they appear, change and vanish", NULL },
          { "timeout", 't', 0, G_OPTION_ARG_DOUBLE, &timeout,
            "Wait at most SECONDS (default 5; with --watch, no limit)", "SECONDS" },
          { NULL } };

  context = g_option_context_new (NULL);
  g_option_context_set_summary (context, "List the branches advertised on the local network.");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!nearby_cmd_parse (context, &argc, &argv, error))
    return FALSE;
  if (argc > 1)
    {
      g_set_error_literal (error, NEARBY_ERROR, NEARBY_ERROR_INVALID,
                           "usage: git nearby browse [--json] [--watch] [--timeout SECONDS]");
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

  options.json = json;
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

  if (json)
    {
      g_autoptr (GString) out = g_string_new ("[");

      for (guint i = 0; i < services->len; i++)
        {
          g_string_append (out, i == 0 ? "\n  " : ",\n  ");
          print_json_object (out, services->pdata[i], NULL);
        }
      g_string_append (out, services->len > 0 ? "\n]\n" : "]\n");
      fputs (out->str, stdout);
    }
  else if (services->len == 0)
    printf ("No branch is advertised nearby.\n");
  else
    print_table (services);
  return TRUE;
}

gboolean
nearby_cmd_resolve (int argc, char **argv, GError **error)
{
  double timeout = NEARBY_BROWSE_DEFAULT_TIMEOUT_MS / 1000.0;
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (NearbyService) service = NULL;
  g_autofree char *name = NULL;
  g_autofree char *host = NULL;
  const GOptionEntry entries[] = { { "timeout", 't', 0, G_OPTION_ARG_DOUBLE, &timeout,
                                     "Wait at most SECONDS (default 5)", "SECONDS" },
                                   { NULL } };

  context = g_option_context_new ("NAME[@HOST]");
  g_option_context_set_summary (context,
                                "Print the URL of the branch advertised nearby as NAME (on HOST).\n"
                                "A NAME that matches no branch exactly may be the end of one:\n"
                                "fix-login finds myproj/fix-login if no other name ends so.");
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
  if (!nearby_url_parse_nearby (argv[1], &name, &host, error))
    return FALSE;
  service = nearby_resolve (name, host, (guint) (timeout * 1000), error);
  if (service == NULL)
    return FALSE;
  {
    g_autofree char *url = nearby_untrusted_escape (service->url);

    printf ("%s\n", url);
  }
  return TRUE;
}
