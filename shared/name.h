/* git-nearby: advertised names and the URL paths they live at. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define NEARBY_NAME_MAX_BYTES 63

/* A name is UTF-8, 1 to 63 bytes, without control characters or invisible
 * and text-direction characters (nearby_unichar_is_invisible(): a name must
 * not look like another), and made of '/'-separated parts that are neither
 * empty nor "." nor "..", so that it survives a trip through a URL path
 * unchanged. */
gboolean nearby_name_validate (const char *name, GError **error);

/* "<repo>/<branch>", or an error saying to pick a name when that is invalid
 * (too long, say). */
char *nearby_name_default (const char *repo_name, const char *branch, GError **error);

/* "/myproj/fix%20login": the percent-encoded URL path of @name. */
char *nearby_name_to_path (const char *name);

/* The inverse of nearby_name_to_path() for a path without its leading '/'.
 * Strict: bad escapes and invalid names are errors. */
char *nearby_name_from_path (const char *path, gsize len, GError **error);

/* The DNS-SD instance name "<name> on <host>", at most 63 bytes: the name
 * part is cut on a UTF-8 boundary so that the host part stays whole. */
char *nearby_instance_name (const char *name, const char *host);

/* Whether the service with the DNS-SD instance name @instance may be the
 * branch nearby://@name stands for, by its exact name or as the end of one
 * ("x/@name"): the instance name is "<advertised name> on <host>", perhaps
 * cut or renamed. Only a filter to spare work: a branch is identified by
 * its TXT record, never by its instance name. */
gboolean nearby_instance_may_be (const char *instance, const char *name);

G_END_DECLS
