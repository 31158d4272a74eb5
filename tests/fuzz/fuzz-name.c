/* libFuzzer harness: advertised names (shared/name.c) — validation, the
 * URL path of a name and back, default and instance names. The input is
 * up to three NUL-separated strings. */
#include "fuzz-common.h"
#include "name.h"

static void
check_name (const char *name)
{
  g_autofree char *path = nearby_name_to_path (name);
  g_autofree char *back = NULL;
  g_autoptr (GError) error = NULL;

  /* A valid name survives the trip through a URL path unchanged, and its
   * path holds nothing a URL would read as something else. */
  g_assert (path[0] == '/');
  for (const char *p = path + 1; *p != '\0'; p++)
    g_assert (g_ascii_isalnum (*p) || strchr ("-._~/%", *p) != NULL);
  back = nearby_name_from_path (path + 1, strlen (path + 1), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (back, ==, name);

  g_assert (strlen (name) <= NEARBY_NAME_MAX_BYTES);
  g_assert (g_utf8_validate (name, -1, NULL));
  for (const char *p = name; *p != '\0'; p = g_utf8_next_char (p))
    g_assert (!g_unichar_iscntrl (g_utf8_get_char (p))
              && !nearby_unichar_is_invisible (g_utf8_get_char (p)));
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  g_auto (GStrv) parts = fuzz_split (data, size, 3);
  const char *a = parts[0];
  const char *b = parts[1] != NULL ? parts[1] : "";
  g_autoptr (GError) error = NULL;

  if (nearby_name_validate (a, &error))
    {
      g_assert_no_error (error);
      check_name (a);
    }
  else
    {
      g_assert (error != NULL);
      fuzz_check_text (error->message);
    }
  g_clear_error (&error);

  /* A path from a request line: strict, and only ever a valid name. */
  {
    g_autofree char *name = nearby_name_from_path ((const char *) data, size, &error);

    g_assert ((name == NULL) == (error != NULL));
    if (name != NULL)
      check_name (name);
    else
      fuzz_check_text (error->message);
    g_clear_error (&error);
  }

  {
    g_autofree char *name = nearby_name_default (a, b, &error);

    g_assert ((name == NULL) == (error != NULL));
    if (name != NULL)
      check_name (name);
    g_clear_error (&error);
  }

  /* The DNS-SD instance name fits a DNS label, stays UTF-8 when its parts
   * are, and is found again by the filter that spares resolver work. */
  if (g_utf8_validate (b, -1, NULL))
    {
      g_autofree char *instance = nearby_instance_name (a, b);

      g_assert (strlen (instance) <= NEARBY_NAME_MAX_BYTES);
      if (nearby_name_validate (a, NULL))
        {
          g_assert (g_utf8_validate (instance, -1, NULL));
          g_assert (nearby_instance_may_be (instance, a));
        }
    }
  (void) nearby_instance_may_be (a, b);
  return 0;
}
