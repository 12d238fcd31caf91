{{
    config(
        incremental_strategy='append',
        order_by='(tenant_id, period_start, meter, billing_account_id)',
        partition_by='toYYYYMM(day)',
        pre_hook="{{ delete_overlapping_periods('day') }}",
    )
}}

{{ local_usage('day', 'day') }}
