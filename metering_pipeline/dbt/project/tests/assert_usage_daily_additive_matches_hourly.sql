{#- count and sum meters: each day of the run's window equals the sum of its hours in usage_hourly. -#}
{{ config(meta={'dagster': {'ref': {'name': 'usage_daily'}}}) }}

{{ additive_mismatches(ref('usage_daily'), 'day', 'day') }}
