import PlanCore
