{#-
  The run's window, from the dbt vars min_hour / max_hour ('YYYY-MM-DD HH:00:00', UTC,
  half-open [min_hour, max_hour)). Dagster passes the partition (range) window; daily and
  monthly marts widen it to the whole days / months that contain it.
-#}

{% macro hour_var(name) -%}
  {%- set value = var(name) | string -%}
  {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:00:00$', value) -%}
    {{ exceptions.raise_compiler_error("dbt var " ~ name ~ " must be 'YYYY-MM-DD HH:00:00' (UTC), got '" ~ value ~ "'") }}
  {%- endif -%}
  {{- return("toDateTime('" ~ value ~ "', 'UTC')") -}}
{%- endmacro %}

{#- Start of the window widened to the grain ('hour', 'day' or 'month'), a DateTime('UTC') expression. -#}
{% macro window_start(grain='hour') -%}
  {%- set start = hour_var('min_hour') -%}
  {%- if var('min_hour') >= var('max_hour') -%}
    {{ exceptions.raise_compiler_error("dbt var min_hour must be before max_hour") }}
  {%- endif -%}
  {%- if grain == 'hour' -%}
    {{- return(start) -}}
  {%- elif grain == 'day' -%}
    {{- return("toStartOfDay(" ~ start ~ ")") -}}
  {%- elif grain == 'month' -%}
    {{- return("toDateTime(toStartOfMonth(" ~ start ~ "), 'UTC')") -}}
  {%- endif -%}
  {{ exceptions.raise_compiler_error("unknown window grain " ~ grain) }}
{%- endmacro %}

{#- End (exclusive) of the window widened to the grain, a DateTime('UTC') expression. -#}
{% macro window_end(grain='hour') -%}
  {%- set end_ = hour_var('max_hour') -%}
  {%- if grain == 'hour' -%}
    {{- return(end_) -}}
  {%- elif grain == 'day' -%}
    {{- return("(toStartOfDay(" ~ end_ ~ " - interval 1 second) + interval 1 day)") -}}
  {%- elif grain == 'month' -%}
    {{- return("toDateTime(toStartOfMonth(" ~ end_ ~ " - interval 1 second) + interval 1 month, 'UTC')") -}}
  {%- endif -%}
  {{ exceptions.raise_compiler_error("unknown window grain " ~ grain) }}
{%- endmacro %}

{#- `column` within the window at `grain`. Date columns compare with toDate() of the UTC bounds. -#}
{% macro in_window(column, grain='hour', date_column=false) -%}
  {%- if date_column -%}
    {{ column }} >= toDate({{ window_start(grain) }}) and {{ column }} < toDate({{ window_end(grain) }})
  {%- else -%}
    {{ column }} >= {{ window_start(grain) }} and {{ column }} < {{ window_end(grain) }}
  {%- endif -%}
{%- endmacro %}

{#-
  Pre-hook of every windowed incremental mart: delete the mart's rows in the window before
  the delete+insert strategy inserts the recomputed window. delete+insert alone deletes only
  the keys present in the new data, so a period that became empty upstream (an hour rerun
  with no events) would keep stale rows; with this hook a rerun replaces exactly the window.
-#}
{% macro delete_window(column, grain='hour', date_column=false) -%}
  {%- if is_incremental() -%}
    delete from {{ this }} where {{ in_window(column, grain, date_column) }}
  {%- endif -%}
{%- endmacro %}

{#-
  Pre-hook of a mart rebuilt from a finer mart of the same run (usage_monthly from
  usage_daily) with delete+insert on its period: delete+insert replaces the periods that
  have rows in the new data, so a period of the window with no rows left in the finer
  mart (every hour of it emptied upstream) is deleted here. Periods that still have rows
  are left to delete+insert, whose select may read this model's previous rows.
-#}
{% macro delete_periods_without_rows(column, grain, finer_relation, finer_column) -%}
  {%- set period_of = {'day': 'toDate', 'month': 'toStartOfMonth'}[grain] -%}
  {%- if is_incremental() -%}
    delete from {{ this }}
    where {{ in_window(column, grain, date_column=true) }}
        and {{ column }} not in (
            select distinct {{ period_of }}({{ finer_column }}) from {{ finer_relation }}
            where {{ in_window(finer_column, grain, date_column=true) }}
        )
  {%- endif -%}
{%- endmacro %}
