{{
    config(
        unique_key='month',
        order_by='(month, tenant_id, meter, billing_account_id)',
        partition_by='toYear(month)',
        pre_hook="{{ delete_window('month', 'month', date_column=true) }}",
    )
}}

{#-
  Additive meters come from usage_hourly, not from usage_daily: the month is then right
  even when its days are built out of order (a backfill), like the unique side that
  always reads the events.
-#}

{{ rollup_usage('month', 'toStartOfMonth(hour)', grain='month') }}
