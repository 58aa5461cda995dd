package fieldwatch_test

import (
	"fmt"
	"time"

	"github.com/fieldwatch/fieldwatch"
)

// A case opened on a Friday with three working days is due at the end of
// the Wednesday after; a holiday on the Monday moves it to Thursday.
func ExampleCalendar_AddWorkingDays() {
	cst := time.FixedZone("CST", 8*3600)
	friday := time.Date(2026, 11, 27, 9, 0, 0, 0, cst)
	plain, _ := fieldwatch.NewCalendar(cst, nil, nil)
	holiday, _ := fieldwatch.NewCalendar(cst, []string{"2026-11-30"}, nil)
	fmt.Println(plain.AddWorkingDays(friday, 3).Format(time.DateTime))
	fmt.Println(holiday.AddWorkingDays(friday, 3).Format(time.DateTime))
	// Output:
	// 2026-12-02 23:59:59
	// 2026-12-03 23:59:59
}

// The state machine of a rectification case, and what each actor may do
// next.
func ExampleActor_AllowedActions() {
	c := fieldwatch.Case{State: fieldwatch.CaseRectificationSubmitted, TownshipCode: "130227106", SubmittedBy: "u-officer"}
	officer := fieldwatch.Actor{UserID: "u-officer", Role: fieldwatch.RoleTownshipOfficer, Townships: []string{"130227106"}}
	admin := fieldwatch.Actor{UserID: "u-admin", Role: fieldwatch.RoleAdmin}
	fmt.Println(officer.AllowedActions(c), admin.AllowedActions(c))
	to, _ := c.State.Next(fieldwatch.ActionReturn)
	fmt.Println(to)
	// Output:
	// [] [verify return]
	// returned
}
