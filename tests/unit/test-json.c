#include "json.h"

static char *
one_string (const char *value)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;
  GString *out = g_string_new (NULL);

  json_builder_begin_array (builder);
  nearby_json_add_string (builder, NULL, value);
  json_builder_end_array (builder);
  root = json_builder_get_root (builder);
  nearby_json_append (out, root);
  return g_string_free (out, FALSE);
}

/* The JSON is UTF-8 and has no raw controls, whatever the input: a TXT
 * value from the network, a Latin-1 branch name. */
static void
test_string (void)
{
  const struct
  {
    const char *in, *out;
  } cases[] = {
    { "a\"b\\c", "[\"a\\\"b\\\\c\"]" },
    { "\x1b[2J\r\n\x1f", "[\"\\u001b[2J\\r\\n\\u001f\"]" },
    { "\xc2\x9b\x7f", "[\"\\u009b\\u007f\"]" },
    { "\xff", "[\"\xef\xbf\xbd\"]" },
    { "caf\xe9", "[\"caf\xef\xbf\xbd\"]" },
    { "é\xe2\x80", "[\"é\xef\xbf\xbd\xef\xbf\xbd\"]" },
    { "ls\u2028\u2029", "[\"ls\\u2028\\u2029\"]" },
    /* structure inside a string is not laid out */
    { "a:b,c", "[\"a:b,c\"]" },
    { "\\\":,", "[\"\\\\\\\":,\"]" },
    { NULL, "[null]" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *out = one_string (cases[i].in);
      g_autoptr (JsonParser) parser = json_parser_new ();
      g_autoptr (GError) error = NULL;

      g_assert_cmpstr (out, ==, cases[i].out);
      g_assert_true (g_utf8_validate (out, -1, NULL));
      g_assert_true (json_parser_load_from_data (parser, out, -1, &error));
      g_assert_no_error (error);
    }
}

/* The layout scripts grep: "key": value, ", " between, one object a line
 * in a list. */
static void
test_layout (void)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (JsonBuilder) empty = json_builder_new ();
  g_autoptr (JsonNode) none = NULL;
  g_autoptr (GString) out = g_string_new (NULL);
  g_autoptr (GString) out_empty = g_string_new (NULL);
  g_autoptr (GBytes) bytes = NULL;

  json_builder_begin_array (builder);
  for (int i = 0; i < 2; i++)
    {
      json_builder_begin_object (builder);
      nearby_json_add_string (builder, "name", i == 0 ? "demo" : "a/b");
      json_builder_set_member_name (builder, "port");
      json_builder_add_int_value (builder, 9419);
      json_builder_set_member_name (builder, "date");
      json_builder_add_int_value (builder, G_GINT64_CONSTANT (1764680000));
      json_builder_set_member_name (builder, "project");
      json_builder_add_boolean_value (builder, i == 0);
      nearby_json_add_string (builder, "owner", NULL);
      json_builder_set_member_name (builder, "pinned");
      json_builder_begin_array (builder);
      for (int j = 0; j < i * 2; j++)
        nearby_json_add_string (builder, NULL, j == 0 ? "origin" : "alice");
      json_builder_end_array (builder);
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
  root = json_builder_get_root (builder);
  nearby_json_append_list (out, root);
  g_assert_cmpstr (
      out->str, ==,
      "[\n"
      "  {\"name\": \"demo\", \"port\": 9419, \"date\": 1764680000, \"project\": true, "
      "\"owner\": null, \"pinned\": []},\n"
      "  {\"name\": \"a/b\", \"port\": 9419, \"date\": 1764680000, \"project\": false, "
      "\"owner\": null, \"pinned\": [\"origin\", \"alice\"]}\n"
      "]\n");

  json_builder_begin_array (empty);
  json_builder_end_array (empty);
  none = json_builder_get_root (empty);
  nearby_json_append_list (out_empty, none);
  g_assert_cmpstr (out_empty->str, ==, "[]\n");

  bytes = nearby_json_to_bytes (json_array_get_element (json_node_get_array (root), 0));
  g_assert_cmpstr (g_bytes_get_data (bytes, NULL), ==,
                   "{\"name\": \"demo\", \"port\": 9419, \"date\": 1764680000, \"project\": true, "
                   "\"owner\": null, \"pinned\": []}\n");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/json/string", test_string);
  g_test_add_func ("/json/layout", test_layout);
  return g_test_run ();
}
