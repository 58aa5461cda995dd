package inspect_test

import (
	"fmt"
	"time"

	"github.com/fieldwatch/fieldwatch/inspect"
)

// A case opened on a Friday with three working days is due at the end of
// the Wednesday after; a holiday on the Monday moves it to Thursday.
func ExampleCalendar_AddWorkingDays() {
	cst := time.FixedZone("CST", 8*3600)
	friday := time.Date(2026, 11, 27, 9, 0, 0, 0, cst)
	plain, _ := inspect.NewCalendar(cst, nil, nil)
	holiday, _ := inspect.NewCalendar(cst, []string{"2026-11-30"}, nil)
	fmt.Println(plain.AddWorkingDays(friday, 3).Format(time.DateTime))
	fmt.Println(holiday.AddWorkingDays(friday, 3).Format(time.DateTime))
	// Output:
	// 2026-12-02 23:59:59
	// 2026-12-03 23:59:59
}

// The state machine of a rectification case, and what each actor may do
// next.
func ExampleActor_AllowedActions() {
	c := inspect.Case{State: inspect.CaseRectificationSubmitted, TownshipCode: "130227106", SubmittedBy: "u-officer"}
	officer := inspect.Actor{UserID: "u-officer", Role: inspect.RoleTownshipOfficer, Townships: []string{"130227106"}}
	admin := inspect.Actor{UserID: "u-admin", Role: inspect.RoleAdmin}
	fmt.Println(officer.AllowedActions(c), admin.AllowedActions(c))
	to, _ := c.State.Next(inspect.ActionReturn)
	fmt.Println(to)
	// Output:
	// [] [verify return]
	// returned
}
