{#- A ClickHouse string literal for any text (catalog keys, meter names) without SQL injection. -#}
{% macro sql_string(value) -%}
  '{{ value | string | replace("\\", "\\\\") | replace("'", "\\'") }}'
{%- endmacro %}

{#-
  The JSON value at `keys` (a list of object keys) as text: a string's content, a number's
  literal, NULL when absent or null. Same expression as metering_pipeline/catalog/sql.py
  json_text, so dbt reads a meter's value exactly as the hourly pipeline does.
-#}
{% macro json_text(column, keys) -%}
  {%- set path = [] -%}
  {%- for key in keys -%}{%- do path.append(sql_string(key)) -%}{%- endfor -%}
  {%- set path = path | join(', ') -%}
  if(JSONType({{ column }}, {{ path }}) = 'String', JSONExtractString({{ column }}, {{ path }}), nullIf(nullIf(JSONExtractRaw({{ column }}, {{ path }}), ''), 'null'))
{%- endmacro %}

{#- The dimensions map of a meter: {name: [keys]} -> map('name', value or ''), names sorted like the pipeline. -#}
{% macro meter_dimensions(column, dimensions) -%}
  {%- if not dimensions -%}
    cast(map(), 'Map(String, String)')
  {%- else -%}
    {%- set pairs = [] -%}
    {%- for name in dimensions | sort -%}
      {%- do pairs.append(sql_string(name) ~ ", coalesce(" ~ json_text(column, dimensions[name]) ~ ", '')") -%}
    {%- endfor -%}
    map({{ pairs | join(', ') }})
  {%- endif -%}
{%- endmacro %}

{#- Value of an additive / max / min meter rolled up from finer rows; unique_count never goes through here. -#}
{% macro rollup_value(value_column='value', aggregation_column='aggregation') -%}
  multiIf({{ aggregation_column }} in ('count', 'sum'), sum({{ value_column }}), {{ aggregation_column }} = 'max', max({{ value_column }}), min({{ value_column }}))
{%- endmacro %}
