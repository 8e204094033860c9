"""Testing orders: 委托 → 收样 → 检测 → 报告 → 发放 → 留样."""
