#include "log.h"

#include <stdio.h>

static const char *log_program = "git-nearby";
static gboolean log_verbose = FALSE;

/* -v shows our own debug messages; G_MESSAGES_DEBUG works as usual. */
static gboolean
dropped (GLogLevelFlags level, const char *domain)
{
  if (log_verbose && domain != NULL && g_str_has_prefix (domain, "nearby"))
    return FALSE;
  return g_log_writer_default_would_drop (level, domain);
}

static GLogWriterOutput
write_log (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
  const char *message = NULL;
  const char *domain = NULL;
  const char *prefix = "";

  for (gsize i = 0; i < n_fields; i++)
    {
      if (g_strcmp0 (fields[i].key, "MESSAGE") == 0)
        message = fields[i].value;
      else if (g_strcmp0 (fields[i].key, "GLIB_DOMAIN") == 0)
        domain = fields[i].value;
    }
  if (message == NULL)
    return G_LOG_WRITER_UNHANDLED;

  if (level & (G_LOG_LEVEL_DEBUG | G_LOG_LEVEL_INFO))
    {
      if (dropped (level, domain))
        return G_LOG_WRITER_HANDLED;
      prefix = "debug: ";
    }
  else if (level & (G_LOG_LEVEL_WARNING | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR))
    prefix = (level & G_LOG_LEVEL_WARNING) ? "warning: " : "error: ";

  fprintf (stderr, "%s: %s%s\n", log_program, prefix, message);
  fflush (stderr);
  return G_LOG_WRITER_HANDLED;
}

void
nearby_log_init (const char *program, gboolean verbose)
{
  static gboolean installed = FALSE;

  log_program = program;
  log_verbose = verbose;
  /* GLib allows one writer per process; later calls only change settings. */
  if (!installed)
    g_log_set_writer_func (write_log, NULL, NULL);
  installed = TRUE;
}
