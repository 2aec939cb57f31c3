//! L1: CronJob schedules with robfig/cron v3 semantics and time zones
