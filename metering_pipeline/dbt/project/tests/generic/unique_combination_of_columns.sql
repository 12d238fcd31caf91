{#- dbt_utils.unique_combination_of_columns, without dbt_utils: rows whose key appears more than once. -#}
{% test unique_combination_of_columns(model, combination_of_columns) %}
{%- set columns = combination_of_columns | join(', ') %}
select {{ columns }}, count() as occurrences
from {{ model }}
group by {{ columns }}
having count() > 1
{% endtest %}
