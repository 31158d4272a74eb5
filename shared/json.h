/* git-nearby: the little JSON the pages and browse --json write. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Appends @s as a JSON string, or null when @s is NULL. The result is
 * valid UTF-8 whatever @s holds: invalid bytes become U+FFFD. */
void nearby_json_string (GString *out, const char *s);

G_END_DECLS
