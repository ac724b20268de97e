"""Layer 3: consumer lag — observe offsets, estimate or read time lag, judge each group's status
(Burrow's model), diagnose why a group lags.  Pure except :mod:`observe`, which records the
sliding window in the history store."""
