/* git-nearby: the keys a repository's nearby:// remotes are pinned to.
 *
 * remote.<name>.nearbykey holds the pin (sha256//...) and
 * remote.<name>.nearbyowner the owner's name seen when it was pinned. They
 * are read and written with `git config` run as a child, so that GIT_DIR
 * (which git sets for remote helpers) says which repository. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* remote.<@remote>.url, .nearbykey and .nearbyowner in one go (each
 * NULL when not set). */
gboolean nearby_remote_config (const char *remote, char **url, char **key, char **owner,
                               GError **error);

/* Sets @key to @value in the current repository's own config. */
gboolean nearby_git_config_set (const char *key, const char *value, GError **error);

typedef struct
{
  char *remote;
  char *key;  /* the pin */
  char *name; /* the name its URL asks for */
} NearbyPin;

void nearby_pin_free (NearbyPin *pin);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NearbyPin, nearby_pin_free)

/* The current repository's pinned remotes (a direct nearby:// URL is a pin
 * too), sorted by remote; empty outside a repository. */
GPtrArray *nearby_pins_of_repository (void);

G_END_DECLS
