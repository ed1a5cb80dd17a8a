"""Calibration files of a real so101, for the calibration tests."""

UPR = 651.8986
GOOD = {
    'format': 1,
    'arm': 'so101',
    'protocol': 'feetech_sts',
    'joints': {'gripper': {'zero': 2000, 'direction': 1, 'units_per_rad': UPR}},
}
