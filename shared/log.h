/* git-nearby: one log writer for every program: "git-nearby: message". */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Installs the writer (once; calling again only updates @verbose, which turns on debug messages of our domains (as
 * G_MESSAGES_DEBUG does). */
void nearby_log_init (const char *program, gboolean verbose);

G_END_DECLS
