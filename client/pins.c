#include "pins.h"

#include <gio/gio.h>
#include <string.h>

#include "identity.h"
#include "nearby-error.h"
#include "url.h"

/* Runs git with @argv (no shell); its stdout, or NULL with @status set. */
static GBytes *
run_git (const char *const *argv, int *status, GError **error)
{
  g_autoptr (GSubprocess) child = NULL;
  g_autoptr (GBytes) out = NULL;

  child = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE,
                             error);
  if (child == NULL)
    return NULL;
  if (!g_subprocess_communicate (child, NULL, NULL, &out, NULL, error))
    return NULL;
  *status = g_subprocess_get_if_exited (child) ? g_subprocess_get_exit_status (child) : -1;
  return g_steal_pointer (&out);
}

gboolean
nearby_remote_config (const char *remote, char **url, char **key, char **owner, GError **error)
{
  /* One child for the three: each costs a few milliseconds, and this is
   * on the path of every fetch. The remote's name is matched here, not in
   * the pattern, so that no character of it means anything to a regex. */
  const char *argv[] = {
    "git", "config", "-z", "--get-regexp", "^remote\\..*\\.(url|nearbykey|nearbyowner)$", NULL
  };
  int status = 0;
  g_autoptr (GBytes) out = run_git (argv, &status, error);
  g_autofree char *prefix = g_strdup_printf ("remote.%s.", remote);
  gsize len = 0, plen = strlen (prefix);
  const char *data, *end;

  *url = *key = *owner = NULL;
  if (out == NULL)
    return FALSE;
  if (status == 1)
    return TRUE; /* none set */
  if (status != 0)
    {
      g_set_error (error, NEARBY_ERROR, NEARBY_ERROR_FAILED, "git config --get-regexp %s failed",
                   argv[4]);
      return FALSE;
    }
  data = g_bytes_get_data (out, &len);
  end = data + len;
  /* Entries are "name\nvalue\0"; the last of several values wins, as
   * with git config --get. */
  while (data < end)
    {
      const char *nul = memchr (data, '\0', end - data);
      const char *nl;
      char **slot = NULL;

      if (nul == NULL)
        break;
      nl = memchr (data, '\n', nul - data);
      if (nl != NULL && (gsize) (nl - data) > plen && strncmp (data, prefix, plen) == 0)
        {
          g_autofree char *variable = g_strndup (data + plen, nl - data - plen);

          slot = strcmp (variable, "url") == 0           ? url
                 : strcmp (variable, "nearbykey") == 0   ? key
                 : strcmp (variable, "nearbyowner") == 0 ? owner
                                                         : NULL;
        }
      if (slot != NULL)
        {
          g_free (*slot);
          *slot = g_strndup (nl + 1, nul - nl - 1);
        }
      data = nul + 1;
    }
  return TRUE;
}

gboolean
nearby_git_config_set (const char *key, const char *value, GError **error)
{
  const char *argv[] = { "git", "config", key, value, NULL };
  int status = 0;
  g_autoptr (GBytes) out = run_git (argv, &status, error);

  if (out == NULL)
    return FALSE;
  if (status != 0)
    {
      g_set_error (error, NEARBY_ERROR, NEARBY_ERROR_FAILED, "git config %s failed", key);
      return FALSE;
    }
  return TRUE;
}

void
nearby_pin_free (NearbyPin *pin)
{
  if (pin == NULL)
    return;
  g_free (pin->remote);
  g_free (pin->key);
  g_free (pin->name);
  g_free (pin);
}

static int
compare_pins (gconstpointer a, gconstpointer b)
{
  return strcmp ((*(NearbyPin *const *) a)->remote, (*(NearbyPin *const *) b)->remote);
}

static NearbyPin *
pin_of (GHashTable *pins, const char *remote)
{
  NearbyPin *pin = g_hash_table_lookup (pins, remote);

  if (pin == NULL)
    {
      pin = g_new0 (NearbyPin, 1);
      pin->remote = g_strdup (remote);
      g_hash_table_insert (pins, pin->remote, pin);
    }
  return pin;
}

GPtrArray *
nearby_pins_of_repository (void)
{
  /* --local fails outside a repository: then there is nothing to mark. */
  const char *argv[] = { "git", "config",       "--local",
                         "-z",  "--get-regexp", "^remote\\..*\\.(nearbykey|url)$",
                         NULL };
  g_autoptr (GPtrArray) result = g_ptr_array_new_with_free_func ((GDestroyNotify) nearby_pin_free);
  g_autoptr (GHashTable) pins
      = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) nearby_pin_free);
  g_autoptr (GBytes) out = NULL;
  g_autofree char *text = NULL;
  int status = 0;
  gsize len = 0;
  const char *data;
  GHashTableIter iter;
  gpointer value;

  out = run_git (argv, &status, NULL);
  if (out == NULL || status != 0)
    return g_steal_pointer (&result);
  data = g_bytes_get_data (out, &len);
  /* NUL-terminated even if git's last entry were not. */
  text = g_malloc (len + 1);
  memcpy (text, data, len);
  text[len] = '\0';
  /* -z: "key\nvalue\0" per entry. */
  for (const char *entry = text; entry < text + len; entry += strlen (entry) + 1)
    {
      const char *newline = strchr (entry, '\n');
      g_autofree char *key = NULL;
      const char *last_dot;
      g_autofree char *remote = NULL;

      if (newline == NULL)
        continue;
      key = g_strndup (entry, newline - entry);
      last_dot = strrchr (key, '.');
      if (!g_str_has_prefix (key, "remote.") || last_dot <= key + strlen ("remote."))
        continue;
      remote = g_strndup (key + strlen ("remote."), last_dot - key - strlen ("remote."));
      if (g_ascii_strcasecmp (last_dot, ".nearbykey") == 0 && nearby_key_is_valid (newline + 1))
        {
          NearbyPin *pin = pin_of (pins, remote);

          g_free (pin->key);
          pin->key = g_strdup (newline + 1);
        }
      else if (g_ascii_strcasecmp (last_dot, ".url") == 0)
        {
          g_auto (NearbyUrl) url = { 0 };

          if (g_str_has_prefix (newline + 1, "nearby://")
              && nearby_url_parse (newline + 1, &url, NULL))
            {
              NearbyPin *pin = pin_of (pins, remote);

              g_free (pin->name);
              pin->name = g_steal_pointer (&url.name);
              /* The URL is the pin. */
              if (url.key != NULL && pin->key == NULL)
                pin->key = g_steal_pointer (&url.key);
            }
        }
    }
  g_hash_table_iter_init (&iter, pins);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      NearbyPin *pin = value;

      if (pin->key != NULL && pin->name != NULL)
        {
          g_hash_table_iter_steal (&iter);
          g_ptr_array_add (result, pin);
        }
    }
  g_ptr_array_sort (result, compare_pins);
  return g_steal_pointer (&result);
}
