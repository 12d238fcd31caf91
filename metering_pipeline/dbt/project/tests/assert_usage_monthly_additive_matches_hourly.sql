{#- count and sum meters: each month of the run's window equals the sum of its hours in usage_hourly. -#}
{{ config(meta={'dagster': {'ref': {'name': 'usage_monthly'}}}) }}

{{ additive_mismatches(ref('usage_monthly'), 'month', 'month') }}
