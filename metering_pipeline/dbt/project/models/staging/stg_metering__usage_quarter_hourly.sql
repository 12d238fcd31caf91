{{ stg_usage('usage_quarter_hourly', ['window_start']) }}
