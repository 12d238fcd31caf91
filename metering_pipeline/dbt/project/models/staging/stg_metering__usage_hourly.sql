{{ stg_usage('usage_hourly') }}
