"""Signalements to Miviludes: approved associations, the ministries' and regional health
agencies' référents and other state services pass on the reports they receive. The
people named are pseudonymised at intake; Miviludes acknowledges, qualifies, and can send
a signalement onward (art. 40 report, order report, content notice) in one step. The
sender is told the outcome category only."""
