#include "json.h"

void
nearby_json_add_string (JsonBuilder *builder, const char *member, const char *value)
{
  if (member != NULL)
    json_builder_set_member_name (builder, member);
  if (value == NULL)
    json_builder_add_null_value (builder);
  else
    {
      /* JSON is UTF-8; neither a commit nor a TXT value need be. */
      g_autofree char *valid = g_utf8_make_valid (value, -1);

      json_builder_add_string_value (builder, valid);
    }
}

/* Characters that could steer a terminal or a JavaScript reader that
 * prints a value. json-glib escapes C0 and DEL itself but leaves C1 and the
 * line separators raw. */
static gboolean
must_escape (gunichar c)
{
  return c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == 0x2028 || c == 0x2029;
}

void
nearby_json_append (GString *out, JsonNode *node)
{
  g_autoptr (JsonGenerator) generator = json_generator_new ();
  g_autofree char *text = NULL;
  gboolean in_string = FALSE;

  json_generator_set_root (generator, node);
  text = json_generator_to_data (generator, NULL);
  /* The compact text has no white space outside strings; the layout puts a
   * space after each ':' and ',' there, as the documents always had. */
  for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (in_string && c == '\\')
        {
          /* An escape is ASCII: copy it and the character it escapes. */
          g_string_append_len (out, p, 2);
          p++;
          continue;
        }
      if (c == '"')
        in_string = !in_string;
      if (in_string && must_escape (c))
        g_string_append_printf (out, "\\u%04x", c);
      else
        g_string_append_len (out, p, g_utf8_next_char (p) - p);
      if (!in_string && (c == ':' || c == ','))
        g_string_append_c (out, ' ');
    }
}

void
nearby_json_list_add (GString *out, guint index, JsonNode *element)
{
  g_string_append (out, index == 0 ? "[\n  " : ",\n  ");
  nearby_json_append (out, element);
}

void
nearby_json_list_end (GString *out, guint n)
{
  g_string_append (out, n > 0 ? "\n]\n" : "[]\n");
}

void
nearby_json_append_list (GString *out, JsonNode *node)
{
  JsonArray *array = json_node_get_array (node);
  guint n = json_array_get_length (array);

  for (guint i = 0; i < n; i++)
    nearby_json_list_add (out, i, json_array_get_element (array, i));
  nearby_json_list_end (out, n);
}

GBytes *
nearby_json_to_bytes (JsonNode *node)
{
  GString *out = g_string_new (NULL);

  nearby_json_append (out, node);
  g_string_append_c (out, '\n');
  return g_string_free_to_bytes (out);
}
