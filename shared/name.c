#include "name.h"

#include <string.h>

#include "nearby-error.h"
#include "untrusted.h"

gboolean
nearby_name_validate (const char *name, GError **error)
{
  gsize len = strlen (name);
  g_autofree char *shown = NULL;
  const char *p;

  if (len == 0)
    {
      g_set_error_literal (error, NEARBY_ERROR, NEARBY_ERROR_INVALID, "a name cannot be empty");
      return FALSE;
    }
  /* The name may come from the network: messages show it escaped. */
  shown = nearby_untrusted_escape (name);
  if (len > NEARBY_NAME_MAX_BYTES)
    {
      g_set_error (error, NEARBY_ERROR, NEARBY_ERROR_INVALID,
                   "name '%s' is %zu bytes long; the limit is %d", shown, len,
                   NEARBY_NAME_MAX_BYTES);
      return FALSE;
    }
  if (!g_utf8_validate (name, len, NULL))
    {
      g_set_error_literal (error, NEARBY_ERROR, NEARBY_ERROR_INVALID, "a name must be valid UTF-8");
      return FALSE;
    }
  for (p = name; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (g_unichar_iscntrl (c))
        {
          g_set_error (error, NEARBY_ERROR, NEARBY_ERROR_INVALID,
                       "name '%s' contains a control character", shown);
          return FALSE;
        }
      /* "fix\u200B-login" would look exactly like "fix-login". */
      if (nearby_unichar_is_invisible (c))
        {
          g_set_error (error, NEARBY_ERROR, NEARBY_ERROR_INVALID,
                       "name '%s' contains an invisible or text-direction character (U+%04X)",
                       shown, c);
          return FALSE;
        }
    }

  /* Each '/'-separated part must be a real path segment. */
  p = name;
  while (TRUE)
    {
      const char *slash = strchr (p, '/');
      gsize part = slash != NULL ? (gsize) (slash - p) : strlen (p);

      if (part == 0 || (part == 1 && p[0] == '.') || (part == 2 && p[0] == '.' && p[1] == '.'))
        {
          g_set_error (error, NEARBY_ERROR, NEARBY_ERROR_INVALID,
                       "name '%s' has an empty, '.' or '..' part between slashes", shown);
          return FALSE;
        }
      if (slash == NULL)
        break;
      p = slash + 1;
    }
  return TRUE;
}

char *
nearby_name_default (const char *repo_name, const char *branch, GError **error)
{
  g_autofree char *name = g_strdup_printf ("%s/%s", repo_name, branch);
  g_autoptr (GError) local_error = NULL;

  if (!nearby_name_validate (name, &local_error))
    {
      g_set_error (error, NEARBY_ERROR, NEARBY_ERROR_INVALID,
                   "cannot use the default name: %s; give a name: git nearby advertise NAME",
                   local_error->message);
      return NULL;
    }
  return g_steal_pointer (&name);
}

char *
nearby_name_to_path (const char *name)
{
  /* RFC 3986's unreserved characters and '/' stay as they are, the rest
   * (' ', '%', '@', ':', every byte of a non-ASCII character) is %XX:
   * what git and curl send unchanged, and what a TXT path= holds. */
  g_autofree char *escaped = g_uri_escape_string (name, "/", FALSE);

  return g_strconcat ("/", escaped, NULL);
}

char *
nearby_name_from_path (const char *path, gsize len, GError **error)
{
  g_autoptr (GString) name = g_string_sized_new (len);

  for (gsize i = 0; i < len; i++)
    {
      if (path[i] == '%')
        {
          int hi, lo;

          if (i + 2 >= len)
            hi = lo = -1;
          else
            {
              hi = g_ascii_xdigit_value (path[i + 1]);
              lo = g_ascii_xdigit_value (path[i + 2]);
            }
          if (hi < 0 || lo < 0)
            {
              g_set_error_literal (error, NEARBY_ERROR, NEARBY_ERROR_INVALID,
                                   "bad percent-escape in path");
              return NULL;
            }
          g_string_append_c (name, (char) (hi << 4 | lo));
          i += 2;
        }
      else if (path[i] == '\0')
        {
          g_set_error_literal (error, NEARBY_ERROR, NEARBY_ERROR_INVALID, "NUL byte in path");
          return NULL;
        }
      else
        g_string_append_c (name, path[i]);
    }
  if (memchr (name->str, '\0', name->len) != NULL)
    {
      g_set_error_literal (error, NEARBY_ERROR, NEARBY_ERROR_INVALID, "NUL byte in path");
      return NULL;
    }
  if (!nearby_name_validate (name->str, error))
    return NULL;
  return g_string_free (g_steal_pointer (&name), FALSE);
}

char *
nearby_instance_name (const char *name, const char *host)
{
  const char *joint = " on ";
  gsize room = NEARBY_NAME_MAX_BYTES - strlen (joint);
  g_autofree char *host_part = NULL;
  gsize name_len;

  /* A host name longer than everything allowed keeps its start. */
  host_part = g_strdup (host);
  if (strlen (host_part) > room - 1)
    {
      const char *end = host_part + room - 1;

      while (end > host_part && (*end & 0xc0) == 0x80)
        end--;
      host_part[end - host_part] = '\0';
    }

  name_len = strlen (name);
  if (name_len > room - strlen (host_part))
    {
      const char *end = name + (room - strlen (host_part));

      while (end > name && (*end & 0xc0) == 0x80)
        end--;
      name_len = end - name;
    }
  return g_strdup_printf ("%.*s%s%s", (int) name_len, name, joint, host_part);
}

/* An instance name at least this long may have been cut (see
 * nearby_instance_name(); Avahi's alternative names stay within 63 bytes). */
#define NEARBY_INSTANCE_CUT_BYTES (NEARBY_NAME_MAX_BYTES - 8)

gboolean
nearby_instance_may_be (const char *instance, const char *name)
{
  gsize len = strlen (name);

  /* A cut instance name no longer shows where the name ends. */
  if (strlen (instance) >= NEARBY_INSTANCE_CUT_BYTES)
    return TRUE;
  /* The name may itself contain " on ": try every place it could end. */
  for (const char *on = strstr (instance, " on "); on != NULL; on = strstr (on + 1, " on "))
    {
      gsize k = on - instance;

      if (k == len && strncmp (instance, name, len) == 0)
        return TRUE;
      if (k > len && instance[k - len - 1] == '/' && strncmp (on - len, name, len) == 0)
        return TRUE;
    }
  return FALSE;
}
