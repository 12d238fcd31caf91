{{
    config(
        unique_key='day',
        order_by='(day, tenant_id, meter, billing_account_id)',
        partition_by='toYYYYMM(day)',
        pre_hook="{{ delete_window('day', 'day', date_column=true) }}",
    )
}}

{{ rollup_usage('day', 'toDate(hour)', grain='day') }}
