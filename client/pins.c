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

static char *
config_get (const char *const *argv, GError **error)
{
  int status = 0;
  g_autoptr (GBytes) out = run_git (argv, &status, error);
  gsize len = 0;
  const char *data;

  if (out == NULL)
    return NULL;
  /* 1: not set. */
  if (status == 1)
    return NULL;
  if (status != 0)
    {
      g_set_error (error, NEARBY_ERROR, NEARBY_ERROR_FAILED, "git config --get %s failed",
                   argv[g_strv_length ((char **) argv) - 1]);
      return NULL;
    }
  data = g_bytes_get_data (out, &len);
  while (len > 0 && data[len - 1] == '\n')
    len--;
  return g_strndup (data, len);
}

char *
nearby_git_config_get (const char *key, GError **error)
{
  const char *argv[] = { "git", "config", "--get", key, NULL };

  return config_get (argv, error);
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
