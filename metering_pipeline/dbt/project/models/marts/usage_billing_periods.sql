{{
    config(
        incremental_strategy='append',
        order_by='(tenant_id, period_start, meter, billing_account_id)',
        partition_by='toYear(period)',
        pre_hook="{{ delete_overlapping_periods('billing_period') }}",
    )
}}

{{ local_usage('billing_period', 'period') }}
