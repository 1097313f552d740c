"""Embedded synthetic pools: names, places, streets, nicknames, placeholders.

Everything here is constant. Names are common given names and surnames, never records of
real people; a person is only ever a random combination of them. The nickname map is the
generator's own and deliberately independent of the matcher's dictionaries.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt

GROUPS: tuple[str, ...] = ("anglo", "hispanic", "black", "asian", "vietnamese", "slavic", "mena")
ANGLO, HISPANIC, BLACK, ASIAN, VIETNAMESE, SLAVIC, MENA = range(len(GROUPS))
MALE, FEMALE = 0, 1

# --- given names, most frequent first (Zipf weights are applied by rank) ---------------------

_FIRST: dict[tuple[int, int], str] = {
    (ANGLO, MALE): """James John Robert Michael William David Richard Joseph Thomas Charles
        Christopher Daniel Matthew Anthony Mark Donald Steven Paul Andrew Joshua Kenneth Kevin
        Brian George Timothy Ronald Edward Jason Jeffrey Ryan Jacob Gary Nicholas Eric Jonathan
        Stephen Larry Justin Scott Brandon Benjamin Samuel Gregory Alexander Frank Patrick
        Raymond Jack Dennis Jerry Tyler Aaron Henry Douglas Peter Adam Nathan Zachary Walter
        Kyle Harold Carl Jeremy Keith Roger Gerald Ethan Arthur Terry Christian Sean Lawrence
        Austin Noah Jesse Albert Bryan Bruce Jordan Dylan Alan Ralph Gabriel Roy Eugene Wayne
        Louis Russell Liam Logan Mason Hunter Connor Caleb Luke Isaac Owen Wyatt Carter
        Frederick Howard Travis Phillip Craig Shane Derek Chad Glenn Cody Dustin Randall André
        Noël""",
    (ANGLO, FEMALE): """Mary Patricia Jennifer Linda Elizabeth Barbara Susan Jessica Sarah Karen
        Lisa Nancy Betty Sandra Margaret Ashley Kimberly Emily Donna Michelle Carol Amanda
        Melissa Deborah Stephanie Dorothy Rebecca Sharon Laura Cynthia Amy Kathleen Angela
        Shirley Brenda Emma Anna Pamela Nicole Samantha Katherine Christine Helen Debra Rachel
        Carolyn Janet Catherine Heather Diane Olivia Julie Joyce Victoria Ruth Virginia Lauren
        Kelly Christina Joan Evelyn Judith Andrea Hannah Megan Cheryl Jacqueline Martha Madison
        Teresa Gloria Sara Janice Ann Kathryn Abigail Sophia Frances Jean Alice Judy Isabella
        Julia Grace Amber Denise Danielle Marilyn Beverly Charlotte Natalie Theresa Diana
        Brittany Doris Kayla Alexis Lori Ava Mia Harper Chloe Leah Hailey Caroline Mary-Kate
        Anne-Marie Zoë Chloé Renée Béatrice""",
    (HISPANIC, MALE): """José Juan Luis Carlos Jesús Jorge Miguel Francisco Antonio Manuel
        Alejandro Pedro Ricardo Javier Fernando Roberto Rafael Daniel Eduardo Sergio Mario Raúl
        Alberto Arturo Héctor Ramón Enrique Guillermo Óscar Víctor Gerardo Ángel Martín Andrés
        Rubén Julio Salvador Armando Alfredo Ignacio Joaquín Ernesto Rodrigo Gustavo Diego
        Adrián Julián Iván Hugo Pablo Gabriel Emilio Santiago Mateo Cristian Edgar Omar Felipe
        Agustín Rogelio Esteban Germán Tomás Nicolás Lorenzo Alfonso Ismael Abel Efraín
        Humberto""",
    (HISPANIC, FEMALE): """María Guadalupe Ana Rosa Juana Margarita Elizabeth Verónica Leticia
        Alejandra Patricia Gabriela Adriana Claudia Silvia Martha Yolanda Carmen Teresa Laura
        Lucía Sofía Isabel Daniela Mariana Fernanda Valeria Ximena Camila Luz Gloria Esperanza
        Dolores Josefina Beatriz Irma Blanca Araceli Norma Alicia Sandra Elena Raquel Rocío
        Inés Mónica Paola Natalia Andrea Diana Marisol Consuelo Concepción Pilar Socorro
        Graciela Lourdes Marisela Yesenia Brenda Karla Jimena Catalina Francisca Refugio
        Angélica Dulce Estela Jazmín Rosario""",
    (BLACK, MALE): """James Michael John Robert David William Anthony Willie Charles Kevin
        Darnell DeShawn Jamal Terrell Tyrone Marcus Andre Reginald Cedric Demetrius Jermaine
        Malik Darius Lamar Rashad Tremaine Dwayne Curtis Derrick Antoine Kendrick Jalen Trevon
        Isaiah Elijah Xavier Maurice Cornelius Leroy Otis Alonzo Quentin Kareem Jamar DaQuan
        Terrence Lamont Desmond Rodney Clarence""",
    (BLACK, FEMALE): """Mary Patricia Linda Latoya Keisha Tamika Ebony Shanice Aaliyah Imani
        Jasmine Tiana Latasha Shaniqua Monique Tanisha Yolanda Gloria Dorothy Denise Angela
        Kimberly Michelle Brenda Annie Lakisha Precious Destiny Jada Nia Kiara Aisha Ayanna
        Tameka Shante Raven Deja Janelle Bernice Geraldine Loretta Octavia Khadijah Makayla
        Tasha Rochelle Felicia Yvette""",
    (ASIAN, MALE): """Wei Jun Kevin David Michael Raj Rahul Amit Sanjay Vijay Anil Arjun Rohan
        Vikram Hiroshi Takeshi Kenji Daniel Jason Eric Andrew Jin Min-jun Ji-hoon Sung Hyun
        Chen Lei Ming Hao Yong Feng Jian Tao Bo Ravi Suresh Ramesh Mohan Kiran Manoj Deepak
        Ajay Rajesh Harpreet Gurpreet Mark Ryan Ethan Brian Jose Rodel Marvin""",
    (ASIAN, FEMALE): """Mei Li Jennifer Grace Priya Anjali Sunita Pooja Neha Kavita Deepa
        Lakshmi Yuki Keiko Sakura Hana Ji-woo Seo-yeon Min-ji Hye-jin Eun-ji Xiu Ying Fang Jing
        Lan Hui Yan Amy Michelle Christine Angela Cynthia Tiffany Vivian Emily Jessica Nisha
        Divya Meera Asha Rekha Sonia Aiko Naomi Ha-eun Su-bin Maricel Rowena Jocelyn""",
    (VIETNAMESE, MALE): """Minh Tuan Hung Dung Thanh Nam Long Duc Hai Quang Huy Khoa Phuc Vinh
        Bao Tam Son Cuong Trung Hieu Hoang Phong Thang Kevin Peter Tony John David Danny Henry
        Vu Tri Tan Loc Nhan""",
    (VIETNAMESE, FEMALE): """Linh Lan Mai Huong Thuy Hoa Ngoc Trang Hanh Thao Phuong Anh Nga
        Hien Tuyet Nhung Diep Yen Van Kim My Tien Uyen Vy Nhi Trinh Tracy Jenny Tina Kathy Julie
        Christina Lily Amy""",
    (SLAVIC, MALE): """Ivan Dmitri Sergei Alexei Mikhail Nikolai Vladimir Andrei Oleksandr Yuri
        Pavel Viktor Igor Boris Anatoly Oleg Roman Maxim Artem Bogdan Taras Piotr Tomasz
        Krzysztof Marek Paweł Jakub Wojciech Jan Stanislav Vasyl Mykola Jaroslav Milan Dragan
        Goran Zoran Nenad Luka Mateusz""",
    (SLAVIC, FEMALE): """Olga Natalia Tatiana Svetlana Irina Elena Anna Maria Yulia Ekaterina
        Oksana Ludmila Galina Nadezhda Anastasia Daria Polina Sofia Ksenia Marina Vera
        Valentina Larisa Iryna Halyna Agnieszka Katarzyna Małgorzata Joanna Magdalena Zofia Ewa
        Dorota Jelena Milica Dragana Ivana Mila Alina Kateryna""",
    (MENA, MALE): """Mohammed Ahmed Ali Omar Hassan Hussein Youssef Khalid Ibrahim Mustafa
        Tariq Samir Karim Rami Fadi Ziad Nabil Walid Bilal Hamza Amir Reza Mehdi Dariush Tamer
        Yousef Abdullah Jamil Majid Sami Mohamed Muhammad""",
    (MENA, FEMALE): """Fatima Aisha Mariam Layla Nour Yasmin Zainab Rana Huda Salma Hana Leila
        Dina Rania Samira Amira Noor Sara Maryam Farah Lina Reem Zahra Shirin Nadia Hiba Jana
        Lubna Soraya Maha""",
}

_COMPOUND_FIRST: dict[tuple[int, int], tuple[str, ...]] = {
    (HISPANIC, MALE): ("Juan Carlos", "José Luis", "Luis Miguel", "Juan Pablo"),
    (HISPANIC, FEMALE): ("María José", "Ana María", "María Guadalupe", "María Fernanda"),
}
"""Two-word given names, ranked from 12th place in their pool."""

# --- surnames, most frequent first ------------------------------------------------------------

_SURNAMES: dict[int, str] = {
    ANGLO: """Smith Johnson Williams Brown Jones Miller Davis Wilson Anderson Taylor Thomas
        Moore Martin Jackson Thompson White Harris Clark Lewis Robinson Walker Young Allen King
        Wright Scott Hill Green Adams Baker Nelson Carter Mitchell Roberts Turner Phillips
        Campbell Parker Evans Edwards Collins Stewart Morris Murphy Cook Rogers Morgan Cooper
        Peterson Reed Bailey Bell Kelly Howard Cox Ward Richardson Wood Watson Brooks Bennett
        Gray Hughes Price Sanders Myers Long Ross Foster Powell Jenkins Perry Russell Sullivan
        Fisher Henderson Coleman Patterson Jordan Reynolds Hamilton Graham Wallace Cole West
        Stevens Hayes Gibson Ellis Murray Ford Marshall Owens McDonald Harrison Kennedy Wells
        Griffin Hunter Hart Tucker Porter Mason Hunt Black Palmer Robertson Stone Holmes Meyer
        Boyd Mills Warren Fox Rose Rice Schmidt Dunn Hawkins Arnold Pierce Spencer Hudson
        Wagner Armstrong Carpenter Weaver Greene Lawrence Elliott Chapman Riley Berry Perkins
        Hoffman Johnston Matthews Peters Willis Fuller Lynch Dean Gilbert Garrett Welch Larson
        Frazier Burke Hanson Day Olson Snyder Harper Fleming Ryan Knight Carroll Andrews Lane
        Austin Bishop Barnes Hall Shaw Gordon Simpson Weber Franklin Bradley Newman Burns
        Webb Hopkins Lucas Walsh Oliver Montgomery Richards Williamson Wheeler Watts Curtis
        Stanley Warner Hicks Chambers Holland Barker Fields Schultz Duncan Bates Bowman Dixon
        Harvey Little Ramsey Baldwin Lambert Norris Sutton Gardner Douglas Lowe Keller Sharp
        Nichols Ferguson Grant Reid Hanna Burton Byrd Schneider Cummings Hale Becker Klein
        Stephens Payne Flynn Barber Bryant Garner Potter Walters McCoy Wolfe Ball Blair Hogan
        Pope Horton Hodges Vaughn Cross Kramer Gregory Swanson Nash Logan Townsend Sherman
        Glover Moss Conner Daniels Lamb Park Hubbard Wise Barrett Rowe Carlson Frank Reeves
        Norton Terry Underwood Benson Cunningham Bradford Hardy Crawford Lyons Fowler
        Christensen Jacobs Ingram Brewer Poole Mathis Steele Fletcher Bush Copeland Goodwin
        Stokes Houston Morrow Sparks McGee Atkinson Pratt Quinn Shepherd Holt Hampton
        Wilkinson Dawson Bauer Lindsey Cannon Sawyer Valentine Buchanan Farmer Osborne Barton
        O'Brien O'Connor O'Neill O'Malley McCarthy McLaughlin MacDonald McKenzie D'Angelo
        Fitzgerald Smith-Jones""",
    HISPANIC: """García Rodríguez Martínez Hernández López González Pérez Sánchez Ramírez Torres
        Flores Rivera Gómez Díaz Cruz Morales Reyes Gutiérrez Ortiz Chávez Ramos Ruiz Mendoza
        Álvarez Castillo Jiménez Vásquez Moreno Romero Herrera Medina Aguilar Vargas Guzmán
        Castro Fernández Muñoz Méndez Salazar Soto Delgado Peña Ríos Alvarado Contreras
        Sandoval Guerrero Estrada Núñez Maldonado Domínguez Vega Rojas Figueroa Cortez Juárez
        Espinoza Luna Navarro Acosta Molina Campos Ávila Cervantes Silva Padilla Ayala Ibarra
        Cabrera Fuentes Valdez Orozco Ochoa Santiago Miranda Rosales Serrano Trujillo
        Velásquez Solís Lara Villarreal Cárdenas Pacheco Zamora Bautista Calderón Galván Ponce
        Escobar Lozano Cisneros Arellano Valencia Velázquez Mejía Carrillo Rangel Beltrán
        Macías Franco Marín Robles Suárez Barrera Tapia Zúñiga Ibáñez Quintero Salinas Montoya
        Córdova Vázquez Benítez Osorio Pineda Santana Meza Duarte Aguirre Villanueva Rosario
        Colón Báez Marrero Quiñones Negrón Caballero Bermúdez Cortés Sepúlveda Paredes Cano
        Barajas Gallegos Varela Blanco Prieto Bravo Márquez Montes Benavides Esparza Olvera
        Andrade Arias Saldaña Nava Corona Trejo Rocha Téllez Villegas Ocampo Lucero Santos
        Hidalgo Nieves Ybarra Zavala Urbina Escamilla Lugo Olivares""",
    BLACK: """Williams Johnson Smith Jones Brown Jackson Davis Thomas Harris Robinson Taylor
        Wilson Moore White Washington Jefferson Walker Green Lewis Allen Thompson Hall Young
        Scott Wright King Carter Edwards Mitchell Banks Bell Richardson Coleman Gordon Watkins
        Henderson Simmons Booker Mosley Freeman Gaines Battle Joseph Pierre Charles Toussaint
        Jean-Baptiste Ware Dorsey Rivers Tolliver Mack Wiggins Bynum Broadnax Whitfield
        Hairston Stallworth Lockhart Blackwell Caldwell Dukes Gadson Holloway Ivory Ledbetter
        McNeil Pettaway Simms Singleton Spann Staton Tate Thornton Truesdale Weathers Blakely
        Ransom Merriweather Jenkins Alexander""",
    ASIAN: """Wang Li Zhang Liu Chen Yang Huang Zhao Wu Zhou Xu Sun Ma Zhu Hu Guo He Lin Luo Gao
        Liang Zheng Xie Tang Han Cao Deng Feng Zeng Peng Lu Su Pan Jiang Cai Yu Du Ye Cheng Wei
        Chan Wong Lee Chang Cheung Lam Ho Ng Chow Leung Tsai Hsu Kim Park Choi Jung Kang Cho
        Yoon Jang Lim Shin Seo Kwon Hwang Ahn Song Yoo Hong Patel Shah Singh Kumar Sharma Gupta
        Desai Mehta Reddy Rao Iyer Nair Joshi Chaudhary Agarwal Malhotra Kapoor Verma Bhatt
        Pillai Menon Das Banerjee Chatterjee Mukherjee Sato Suzuki Takahashi Tanaka Watanabe
        Ito Yamamoto Nakamura Kobayashi Kato Yoshida Yamada Sasaki Matsumoto Inoue Kimura
        Hayashi Shimizu Santos Reyes Cruz Bautista Villanueva Aquino Ramos Soriano
        Manalo Pascual Tolentino Dizon""",
    VIETNAMESE: """Nguyen Tran Le Pham Hoang Huynh Phan Vu Vo Dang Bui Do Ho Ngo Duong Ly Truong
        Dinh Lam Luu Mai Trinh Cao Ha Quach Thai Ton Tang Doan Lai Diep Kieu La Lu Chau Au Tieu
        Luong Khuu Ta""",
    SLAVIC: """Ivanov Smirnov Kuznetsov Popov Vasiliev Petrov Sokolov Mikhailov Novikov Fedorov
        Morozov Volkov Alekseev Lebedev Semenov Egorov Pavlov Kozlov Stepanov Nikolaev Orlov
        Andreev Makarov Nikitin Zakharov Zaitsev Soloviev Borisov Yakovlev Grigoriev Romanov
        Vorobiev Sergeev Kovalenko Shevchenko Bondarenko Tkachenko Kovalchuk Kravchenko Oliynyk
        Shevchuk Polishchuk Melnyk Boyko Tkachuk Savchenko Rudenko Moroz Lysenko Petrenko Nowak
        Kowalski Wiśniewski Wójcik Kowalczyk Kamiński Lewandowski Zieliński Szymański Woźniak
        Dąbrowski Kozłowski Jankowski Mazur Kwiatkowski Krawczyk Piotrowski Grabowski
        Nowakowski Pawłowski Michalski Nowicki Adamczyk Dudek Zając Wieczorek Jabłoński Król
        Majewski Olszewski Jaworski Wróbel Malinowski Pawlak Witkowski Walczak Stępień Górski
        Rutkowski Michalak Sikora Ostrowski Baran Duda Szewczyk Tomaszewski Pietrzak Marciniak
        Wróblewski Zalewski Jakubowski Jasiński Zawadzki Sadowski Bąk Chmielewski Włodarczyk
        Borkowski Czarnecki Sawicki Sokołowski Urbański Kubiak Maciejewski Szczepański
        Kucharski Wilk Kalinowski Lis Mazurek Wysocki Adamski Kaźmierczak Wasilewski Sobczak
        Czerwiński Andrzejewski Cieślak Głowacki Zakrzewski Kołodziej Sikorski Krajewski
        Gajewski Szymczak Szulc Baranowski Laskowski Brzeziński Makowski Ziółkowski Przybylski
        Petrović Jovanović Nikolić Marković Đorđević Stojanović Ilić Stanković Pavlović
        Milošević Horvat Kovačević Babić Novak Dvořák Černý Svoboda Procházka""",
    MENA: """Ali Khan Ahmed Hassan Hussein Mohamed Ibrahim Abdullah Mahmoud Saleh Haddad Khoury
        Nasser Aziz Rahman Hamdan Mansour Farah Salem Said Jaber Issa Darwish Abboud Karam
        Sabbagh Habib Nassar Qureshi Malik Siddiqui Sheikh Hashemi Tehrani Rahimi Karimi
        Hosseini Mousavi Ahmadi Jafari Rezaei Mohammadi Alavi El-Amin Al-Sayed Abdel-Rahman
        Bakr Yousef Omar Suleiman Aboud""",
}

_MULTIWORD_SURNAMES: dict[int, tuple[str, ...]] = {
    HISPANIC: (
        "de la Cruz", "de León", "del Río", "de los Santos", "de Jesús", "de la Rosa",
        "de la Torre", "del Valle", "de la Garza", "de la Fuente", "del Toro", "de Anda",
    ),
    ASIAN: ("Dela Cruz",),
    ANGLO: ("St. John", "Van Dyke"),
}  # fmt: skip
"""Surnames with particles, ranked just after the head of their group's list."""

_TAIL_ONSETS_TEXT = (
    "Ash Brad Brent Bur Cal Carr Chad Cres Dal Dun El Fair Gar Hal Hart Hol Kell Ken Lang Lind "
    "Mar Mel Mor Nor Pen Ral Red Ros Sal Shel Stan Thorn Tren Wal Wes Whit Win Kav Bren Dras "
    "Vel Kor Lor Mad Fen Tal Grev Hask Oak Pem"
)
_TAIL_CODAS_TEXT = (
    "ford worth ley ton wick field man son stead holt more by wood well ridge brook ham ster "
    "ling den croft wick ey ich ecki aski ovitz ek mann hardt"
)


# --- places -----------------------------------------------------------------------------------

STATE_ZIP3: dict[str, tuple[int, int]] = {
    "AL": (350, 369), "AZ": (850, 865), "AR": (716, 729), "CA": (900, 961), "CO": (800, 816),
    "CT": (60, 69), "DC": (200, 205), "FL": (320, 349), "GA": (300, 319), "ID": (832, 838),
    "IL": (600, 629), "IN": (460, 479), "IA": (500, 528), "KS": (660, 679), "KY": (400, 427),
    "LA": (700, 714), "ME": (39, 49), "MD": (206, 219), "MA": (10, 27), "MI": (480, 499),
    "MN": (550, 567), "MS": (386, 397), "MO": (630, 658), "NE": (680, 693), "NV": (889, 898),
    "NH": (30, 38), "NJ": (70, 89), "NM": (870, 884), "NY": (100, 149), "NC": (270, 289),
    "OH": (430, 459), "OK": (730, 749), "OR": (970, 979), "PA": (150, 196), "RI": (28, 29),
    "SC": (290, 299), "TN": (370, 385), "TX": (750, 799), "UT": (840, 847), "VA": (220, 246),
    "WA": (980, 994), "WI": (530, 549), "VT": (50, 59), "WV": (247, 268),
}  # fmt: skip
"""Three-digit ZIP prefixes by state; leading zeros are kept (New England ZIPs start with 0)."""

_MIX_DEFAULT = (0.56, 0.18, 0.12, 0.06, 0.02, 0.04, 0.02)

# (name, state, relative population, ethnic mix or None for the national default)
_REAL_CITIES: tuple[tuple[str, str, float, tuple[float, ...] | None], ...] = (
    ("New York", "NY", 83, (0.31, 0.28, 0.22, 0.11, 0.01, 0.06, 0.01)),
    ("Los Angeles", "CA", 39, (0.27, 0.48, 0.08, 0.11, 0.02, 0.03, 0.01)),
    ("Chicago", "IL", 27, (0.32, 0.29, 0.28, 0.05, 0.005, 0.05, 0.005)),
    ("Houston", "TX", 23, (0.24, 0.44, 0.22, 0.06, 0.03, 0.005, 0.005)),
    ("Phoenix", "AZ", 16, (0.43, 0.42, 0.07, 0.04, 0.01, 0.02, 0.01)),
    ("Philadelphia", "PA", 16, (0.35, 0.15, 0.40, 0.06, 0.01, 0.02, 0.01)),
    ("San Antonio", "TX", 15, (0.25, 0.64, 0.07, 0.03, 0.005, 0.005, 0.0)),
    ("San Diego", "CA", 14, (0.43, 0.30, 0.06, 0.14, 0.04, 0.02, 0.01)),
    ("Dallas", "TX", 13, (0.29, 0.42, 0.24, 0.03, 0.01, 0.005, 0.005)),
    ("San Jose", "CA", 10, (0.25, 0.31, 0.03, 0.30, 0.10, 0.005, 0.005)),
    ("Austin", "TX", 10, (0.48, 0.33, 0.08, 0.08, 0.01, 0.01, 0.01)),
    ("Jacksonville", "FL", 9.5, (0.50, 0.11, 0.31, 0.05, 0.01, 0.01, 0.01)),
    ("Fort Worth", "TX", 9, None),
    ("Columbus", "OH", 9, (0.56, 0.07, 0.29, 0.05, 0.005, 0.02, 0.01)),
    ("Charlotte", "NC", 9, (0.45, 0.15, 0.35, 0.04, 0.005, 0.005, 0.0)),
    ("Indianapolis", "IN", 8.8, None),
    ("San Francisco", "CA", 8, (0.40, 0.15, 0.05, 0.34, 0.03, 0.02, 0.01)),
    ("Seattle", "WA", 7.5, (0.63, 0.07, 0.07, 0.15, 0.03, 0.04, 0.01)),
    ("Denver", "CO", 7.1, (0.55, 0.29, 0.09, 0.04, 0.01, 0.01, 0.01)),
    ("Washington", "DC", 6.9, (0.38, 0.11, 0.45, 0.04, 0.005, 0.01, 0.005)),
    ("Boston", "MA", 6.5, (0.45, 0.19, 0.23, 0.09, 0.02, 0.01, 0.01)),
    ("El Paso", "TX", 6.8, (0.13, 0.81, 0.04, 0.015, 0.0, 0.005, 0.0)),
    ("Nashville", "TN", 6.9, None),
    ("Detroit", "MI", 6.3, (0.11, 0.08, 0.77, 0.015, 0.0, 0.005, 0.02)),
    ("Oklahoma City", "OK", 6.8, None),
    ("Portland", "OR", 6.5, (0.70, 0.10, 0.06, 0.07, 0.03, 0.03, 0.01)),
    ("Las Vegas", "NV", 6.4, (0.42, 0.34, 0.12, 0.08, 0.01, 0.02, 0.01)),
    ("Memphis", "TN", 6.3, (0.26, 0.08, 0.63, 0.02, 0.005, 0.005, 0.0)),
    ("Louisville", "KY", 6.2, None),
    ("Baltimore", "MD", 5.8, (0.29, 0.06, 0.60, 0.03, 0.005, 0.01, 0.005)),
    ("Milwaukee", "WI", 5.7, (0.35, 0.20, 0.38, 0.04, 0.005, 0.02, 0.005)),
    ("Albuquerque", "NM", 5.6, (0.40, 0.49, 0.04, 0.04, 0.01, 0.01, 0.01)),
    ("Tucson", "AZ", 5.4, (0.45, 0.44, 0.05, 0.03, 0.01, 0.01, 0.01)),
    ("Fresno", "CA", 5.4, (0.27, 0.50, 0.07, 0.14, 0.01, 0.005, 0.005)),
    ("Sacramento", "CA", 5.2, (0.32, 0.29, 0.13, 0.18, 0.02, 0.05, 0.01)),
    ("Mesa", "AZ", 5.0, None),
    ("Kansas City", "MO", 5.0, None),
    ("Atlanta", "GA", 4.9, (0.38, 0.06, 0.49, 0.05, 0.005, 0.01, 0.005)),
    ("Omaha", "NE", 4.8, None),
    ("Colorado Springs", "CO", 4.8, None),
    ("Raleigh", "NC", 4.7, None),
    ("Miami", "FL", 4.4, (0.12, 0.71, 0.15, 0.01, 0.0, 0.01, 0.0)),
    ("Long Beach", "CA", 4.6, (0.28, 0.43, 0.12, 0.13, 0.02, 0.01, 0.01)),
    ("Virginia Beach", "VA", 4.6, None),
    ("Oakland", "CA", 4.4, (0.29, 0.27, 0.22, 0.16, 0.03, 0.02, 0.01)),
    ("Minneapolis", "MN", 4.3, (0.60, 0.10, 0.19, 0.06, 0.01, 0.02, 0.02)),
    ("Tulsa", "OK", 4.1, None),
    ("Tampa", "FL", 3.9, (0.45, 0.26, 0.23, 0.04, 0.01, 0.005, 0.005)),
    ("Arlington", "TX", 3.9, None),
    ("New Orleans", "LA", 3.8, (0.33, 0.06, 0.57, 0.02, 0.02, 0.0, 0.0)),
    ("Santa Ana", "CA", 3.1, (0.09, 0.76, 0.01, 0.06, 0.08, 0.0, 0.0)),
    ("Anaheim", "CA", 3.5, (0.26, 0.53, 0.03, 0.10, 0.06, 0.01, 0.01)),
    ("Westminster", "CA", 0.9, (0.25, 0.25, 0.01, 0.08, 0.41, 0.0, 0.0)),
    ("Garden Grove", "CA", 1.7, (0.20, 0.37, 0.01, 0.10, 0.32, 0.0, 0.0)),
    ("Hialeah", "FL", 2.2, (0.04, 0.95, 0.01, 0.0, 0.0, 0.0, 0.0)),
    ("Laredo", "TX", 2.6, (0.04, 0.95, 0.01, 0.0, 0.0, 0.0, 0.0)),
    ("Brownsville", "TX", 1.9, (0.06, 0.93, 0.01, 0.0, 0.0, 0.0, 0.0)),
    ("McAllen", "TX", 1.4, (0.12, 0.85, 0.01, 0.02, 0.0, 0.0, 0.0)),
    ("Newark", "NJ", 3.1, (0.10, 0.36, 0.49, 0.02, 0.0, 0.02, 0.01)),
    ("Jersey City", "NJ", 2.9, (0.22, 0.27, 0.22, 0.24, 0.0, 0.02, 0.03)),
    ("Paterson", "NJ", 1.6, (0.10, 0.61, 0.22, 0.02, 0.0, 0.0, 0.05)),
    ("Dearborn", "MI", 1.1, (0.45, 0.05, 0.03, 0.02, 0.0, 0.0, 0.45)),
    ("Springfield", "IL", 1.1, None),
    ("Springfield", "MO", 1.7, None),
    ("Springfield", "MA", 1.5, (0.32, 0.45, 0.20, 0.02, 0.01, 0.0, 0.0)),
    ("Portland", "ME", 0.7, None),
    ("Columbus", "GA", 2.0, None),
    ("Kansas City", "KS", 1.5, None),
    ("Arlington", "VA", 2.4, None),
    ("Aurora", "CO", 3.9, None),
    ("Aurora", "IL", 1.8, None),
    ("Saint Paul", "MN", 3.1, None),
    ("Saint Louis", "MO", 3.0, (0.44, 0.04, 0.46, 0.03, 0.01, 0.02, 0.0)),
)

_CITY_PREFIX_TEXT = (
    "Spring Oak Cedar Maple Pine River Lake Fair Green Glen Clear Mill Brook Ash Elm Bell Red "
    "White Stone Rock Sun Silver Golden Mount North South East West New Port Fort Bay Wood "
    "Wild Hill Haven Cold Kings Bridge Cherry Willow Eagle Deer Fox Harbor Prairie Sand Shady"
)
_CITY_SUFFIX_TEXT = (
    "field|ville|wood|ridge|dale|ton|burg|view|port|brook|side|land|ford|haven| Springs|"
    " Falls| Hills| Park| Heights| City| Grove| Valley| Junction| Creek| Lake"
)
_SPANISH_TOWNS = (
    "San Isidro", "Santa Rosa", "Los Alamos", "San Benito", "Santa Clara", "La Puente",
    "San Marcos", "El Centro", "Las Cruces", "San Fernando", "La Joya", "Socorro",
    "San Elizario", "Del Rio", "Eagle Pass", "Española", "Cañon City",
)  # fmt: skip

# --- streets ----------------------------------------------------------------------------------

_ORDINAL_WORDS = ("First", "Second", "Third", "Fourth", "Fifth", "Sixth", "Seventh", "Eighth",
                  "Ninth", "Tenth")  # fmt: skip

_STREET_WORDS = (
    "Main Oak Maple Park Pine Cedar Elm Washington Lake Hill Walnut Spring Church Lincoln "
    "Jefferson Chestnut Willow Highland Sunset Ridge Jackson Madison Franklin Adams Meadow "
    "Forest Valley Center Mill River Prospect Union Market Water Broad Bridge Railroad School "
    "College Central Grove Orchard Cherry Birch Spruce Magnolia Sycamore Hickory Aspen "
    "Juniper Cypress Dogwood Laurel Poplar Redwood Monroe Grant Wilson Kennedy Roosevelt "
    "Harrison Taylor Tyler Polk Garfield Cleveland High Academy University Bay Harbor Ocean "
    "Beach Shore Canyon Mesa Desert Mountain Vista Alameda Paseo Rosewood Lakeview Fairview "
    "Hillcrest Woodland Greenwood Brookside Riverside Parkview Crestview Glenwood Kingston "
    "Arlington Lexington Concord Hamilton Clinton Colonial Heritage Liberty Pleasant "
    "Summit Country Club Mission Hollywood Sierra Palm Olive Pecan Mulberry Peachtree "
    "Cottonwood Mesquite Sequoia Alder Hawthorn Linden Beech Locust Hemlock Sassafras Quail "
    "Cardinal Bluebird Robin Sparrow Heron Falcon Hawk Deer Fox Bear Elk Buffalo Mustang "
    "Pioneer Frontier Ranch Prairie Harvest Orchid Lilac Jasmine Camellia Azalea Gardenia "
    "Hibiscus Primrose Lavender Clover Ivy Fern Moss Briar Thistle Heather Sage Rosemary "
    "Thyme Chapel Abbey Manor Castle Tower Gate Fountain Garden Pond Creek Spring Well Stone"
)
_STREET_PHRASES = (
    "El Camino Real", "Camino del Sol", "Cesar Chavez", "Martin Luther King Jr", "Malcolm X",
    "Buena Vista", "Rio Grande", "Santa Fe", "San Pedro", "La Brea", "Los Feliz",
    "Saint Charles", "Saint Andrews", "Mount Vernon", "Old Mill", "Indian Hill", "Gun Club",
    "Cross Creek", "Stony Brook", "Deer Run", "Fox Hollow", "Pine Valley", "Oak Hill",
)  # fmt: skip

SUFFIXES: tuple[tuple[str, str, float], ...] = (
    ("Street", "St", 30), ("Avenue", "Ave", 18), ("Drive", "Dr", 12), ("Road", "Rd", 10),
    ("Lane", "Ln", 6), ("Court", "Ct", 5), ("Boulevard", "Blvd", 4), ("Place", "Pl", 3),
    ("Way", "Way", 3), ("Circle", "Cir", 2), ("Terrace", "Ter", 1.5), ("Parkway", "Pkwy", 1.2),
    ("Highway", "Hwy", 1), ("Trail", "Trl", 1), ("Square", "Sq", 0.4), ("Crossing", "Xing", 0.3),
    ("Point", "Pt", 0.3), ("Loop", "Loop", 0.5), ("Path", "Path", 0.3), ("Pike", "Pike", 0.3),
    ("Alley", "Aly", 0.2), ("Run", "Run", 0.3),
)  # fmt: skip
"""(full, USPS abbreviation, weight)."""

SUFFIX_ALTERNATES: dict[str, tuple[str, ...]] = {
    "Street": ("Str", "Strt", "St."), "Avenue": ("Av", "Ave.", "Aven", "Avn"),
    "Drive": ("Dr.", "Drv", "Driv"), "Road": ("Rd.",), "Lane": ("Ln.",),
    "Court": ("Ct.", "Crt"), "Boulevard": ("Blvd.", "Boul", "Boulv"), "Place": ("Pl.",),
    "Circle": ("Cir.", "Circ", "Crcl"), "Terrace": ("Ter.", "Terr"),
    "Parkway": ("Pkwy.", "Pky", "Parkwy"), "Highway": ("Hwy.", "Hiway", "Hwy"),
    "Trail": ("Trl.",),
}  # fmt: skip
"""Pub 28 common alternates, as agencies type them."""

DIRECTIONALS: tuple[tuple[str, str], ...] = (
    ("North", "N"), ("South", "S"), ("East", "E"), ("West", "W"),
    ("Northeast", "NE"), ("Northwest", "NW"), ("Southeast", "SE"), ("Southwest", "SW"),
)  # fmt: skip

UNIT_TYPES: tuple[tuple[str, ...], ...] = (
    ("Apt", "Apartment", "#", "Apt."),
    ("Unit", "#", "Unit"),
    ("Ste", "Suite", "#"),
)
"""Per unit kind, the designators it may be written with."""

# --- nicknames and variants: the generator's own map -----------------------------------------

NICKNAMES: dict[str, tuple[str, ...]] = {
    "William": ("Bill", "Billy", "Will", "Willie"), "Robert": ("Bob", "Bobby", "Rob", "Robbie"),
    "Richard": ("Rick", "Rich", "Dick", "Ricky"), "James": ("Jim", "Jimmy", "Jamie"),
    "John": ("Johnny", "Jack"), "Joseph": ("Joe", "Joey"), "Michael": ("Mike", "Mikey"),
    "Thomas": ("Tom", "Tommy"), "Charles": ("Charlie", "Chuck"), "Christopher": ("Chris",),
    "Daniel": ("Dan", "Danny"), "Matthew": ("Matt",), "Anthony": ("Tony",),
    "Steven": ("Steve",), "Stephen": ("Steve",), "Edward": ("Ed", "Eddie", "Ted"),
    "Kenneth": ("Ken", "Kenny"), "Timothy": ("Tim",), "Ronald": ("Ron", "Ronnie"),
    "Donald": ("Don", "Donnie"), "Andrew": ("Andy", "Drew"), "Joshua": ("Josh",),
    "Jonathan": ("Jon",), "Nicholas": ("Nick", "Nicky"), "Benjamin": ("Ben", "Benny"),
    "Samuel": ("Sam", "Sammy"), "Alexander": ("Alex", "Xander"), "Gregory": ("Greg",),
    "Patrick": ("Pat", "Paddy"), "Raymond": ("Ray",), "Gerald": ("Jerry",),
    "Lawrence": ("Larry",), "Henry": ("Hank", "Harry"), "Peter": ("Pete",),
    "Zachary": ("Zach",), "Nathan": ("Nate",), "Douglas": ("Doug",), "Frederick": ("Fred",),
    "Elizabeth": ("Liz", "Beth", "Betty", "Eliza", "Lizzie"),
    "Margaret": ("Maggie", "Peggy", "Meg"), "Katherine": ("Kate", "Katie", "Kathy"),
    "Catherine": ("Cathy", "Cate"), "Kathleen": ("Kathy", "Kate"),
    "Patricia": ("Patty", "Trish", "Tricia"), "Jennifer": ("Jen", "Jenny"),
    "Rebecca": ("Becky", "Becca"), "Deborah": ("Debbie", "Deb"), "Susan": ("Sue", "Susie"),
    "Barbara": ("Barb",), "Kimberly": ("Kim",), "Jessica": ("Jess", "Jessie"),
    "Samantha": ("Sam", "Sammie"), "Victoria": ("Vicky", "Tori"),
    "Christina": ("Tina", "Chrissy"), "Christine": ("Chris", "Tina"),
    "Dorothy": ("Dot", "Dottie"), "Abigail": ("Abby",), "Pamela": ("Pam",),
    "Cynthia": ("Cindy",), "Judith": ("Judy",), "Stephanie": ("Steph",),
    "Theresa": ("Tess", "Terri"), "Alexandra": ("Lexi", "Alex"),
    "José": ("Pepe", "Chepe"), "Francisco": ("Paco", "Pancho", "Frank"), "Jesús": ("Chuy",),
    "Guadalupe": ("Lupe", "Lupita"), "Alejandro": ("Alex", "Alejo"), "Ignacio": ("Nacho",),
    "Enrique": ("Kike",), "Eduardo": ("Lalo",), "Roberto": ("Beto",), "Alberto": ("Beto",),
    "Guillermo": ("Memo",), "Manuel": ("Manny", "Manolo"), "Antonio": ("Toño", "Tony"),
    "Rafael": ("Rafa",), "Fernando": ("Nando",), "Dolores": ("Lola",),
    "Concepción": ("Concha", "Conchita"), "Rosario": ("Chayo",), "Socorro": ("Coco",),
    "Josefina": ("Josie", "Fina"), "Francisca": ("Paquita", "Panchita"),
    "Graciela": ("Chela",), "Margarita": ("Rita", "Margie"), "Isabel": ("Chabela", "Isa"),
    "Gabriela": ("Gaby",), "Alejandra": ("Ale",), "Dmitri": ("Dima",), "Ivan": ("Vanya",),
    "Mikhail": ("Misha",), "Nikolai": ("Kolya",), "Vladimir": ("Volodya", "Vova"),
    "Natalia": ("Natasha",), "Tatiana": ("Tanya",), "Svetlana": ("Sveta",),
    "Ekaterina": ("Katya",), "Anastasia": ("Nastya",), "Oleksandr": ("Sasha",),
    "Mohammed": ("Muhammad", "Mohamed", "Mohammad"), "Youssef": ("Yusuf", "Joseph"),
}  # fmt: skip
"""Formal given name -> nicknames and spelling variants a requester may use instead."""

TWIN_PAIRS: dict[tuple[int, int], tuple[tuple[str, str], ...]] = {
    (MALE, FEMALE): (
        ("Daniel", "Danielle"), ("Christian", "Christina"), ("Adrian", "Adriana"),
        ("Gabriel", "Gabriela"), ("Julian", "Juliana"), ("Eric", "Erica"), ("Paul", "Paula"),
        ("Alexander", "Alexandra"), ("Francisco", "Francisca"), ("Mario", "María"),
        ("Jordan", "Jordyn"), ("Luis", "Luisa"), ("Fernando", "Fernanda"), ("Ángel", "Ángela"),
        ("Juan", "Juana"), ("Antonio", "Antonia"), ("Samuel", "Samantha"),
    ),
    (MALE, MALE): (
        ("Ryan", "Brian"), ("Aidan", "Jayden"), ("Jason", "Justin"), ("Ethan", "Evan"),
        ("Mason", "Jason"), ("Nathan", "Ethan"), ("José", "Josué"), ("Marco", "Mario"),
    ),
    (FEMALE, FEMALE): (
        ("Ava", "Eva"), ("Mia", "Leah"), ("Emily", "Emma"), ("Hailey", "Kaylee"),
        ("Kayla", "Kyla"), ("Alyssa", "Alexis"), ("Madison", "Mackenzie"), ("Ana", "Anna"),
    ),
}  # fmt: skip
"""Similar given names parents choose for twins (sexes of the first and second twin)."""

# --- placeholders -----------------------------------------------------------------------------

PLACEHOLDER_STREETS: tuple[str, ...] = (
    "Failed to Provide", "Unknown Address", "UNKNOWN", "Unknown", "NONE", "None", "N/A", "NA",
    "n/a", "General Delivery", "GENERAL DELIVERY", "See attached", "SEE ATTACHED",
    "Address on file", "123 Fake St", "123 Fake Street", "?", "??", "xxx", "XXXX",
    "Homeless", "HOMELESS", "Refused", "No address given", "TBD", "Same as above",
    "Not Available", "unk", "UNK", "---", "-", "...", "Not Provided", "Withheld",
    "Undisclosed", "Transient", "No Fixed Address", "NFA", "Address Unknown", "Various",
    "DO NOT MAIL", "Return to Sender", "Unknown Unknown", "X", "0", "Not Applicable",
    "Pending", "To Be Determined", "Declined", "Street", "Address", "In Custody",
    "Last Known Address Unknown", "PO Box", "P.O. Box", "123 Any Street", "0 Unknown Street",
    "1 Nowhere Ln", "Anywhere USA", "Main Street", "Same", "Ditto", "Test", "asdf",
)  # fmt: skip
"""Street values that do not satisfy the address element (house number + street, or PO Box).

Some carry a number ("123 Fake St") or a street word ("Main Street") and still fail: a fixed
list of 'UNKNOWN'-like values would miss them.
"""

PLACEHOLDER_WITH_ZIP: tuple[str, ...] = ("Don't Care {zip}", "{zip}", "00000", "Zip {zip}",
                                         "Unknown {zip}", "ZIP CODE {zip}")  # fmt: skip
"""Placeholders built around a ZIP code: a ZIP is not an address."""

_RANDOM_WORDS_TEXT = """Banana Keyboard Purple Elephant Window Thunder Marble Pillow Rocket Velvet Copper
    Whisper Lantern Pickle Saddle Compass Button Cactus Puzzle Mango Violin Turtle Sugar
    Canvas Ribbon Anchor Blanket Crayon Dragon Feather Glacier Honey Igloo Jelly Kettle Ladder
    Magnet Napkin Orange Pepper Quilt Radish Scooter Tiger Umbrella Walrus Yogurt Zebra
    Biscuit Muffin Noodle Pretzel Walnut Teapot"""
RANDOM_WORDS: tuple[str, ...] = tuple(_RANDOM_WORDS_TEXT.split())
"""Words for random non-addresses ("Banana Keyboard"); none is a street type."""

INVALID_TIN_FORMS: tuple[str, ...] = (
    "drop",
    "extra",
    "letter_o",
    "letter_s",
    "short_dashed",
    "masked",
    "alpha",
    "long_dashed",
)


# --- helpers ----------------------------------------------------------------------------------

_SPECIAL_ASCII = str.maketrans(
    {"ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ø": "o", "Ø": "O", "ß": "ss", "æ": "ae"}
)


def strip_accents(text: str) -> str:
    """ASCII-ish text: combining marks removed, stroked letters replaced."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_SPECIAL_ASCII))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def zipf_cumulative(n: int, s: float) -> npt.NDArray[np.float64]:
    """Cumulative Zipf weights over ranks 1..n, normalised to end at 1."""
    weights = 1.0 / np.arange(1, n + 1, dtype=np.float64) ** s
    cum = np.cumsum(weights)
    out: npt.NDArray[np.float64] = cum / cum[-1]
    return out


@dataclass(frozen=True)
class NamePools:
    """Global name tables and, per group (and sex), ranked id lists with cumulative weights."""

    first: tuple[str, ...]
    first_plain: tuple[str, ...]
    first_ids: dict[tuple[int, int], npt.NDArray[np.int32]]
    first_cum: dict[tuple[int, int], npt.NDArray[np.float64]]
    surnames: tuple[str, ...]
    surnames_plain: tuple[str, ...]
    surname_ids: dict[int, npt.NDArray[np.int32]]
    surname_cum: dict[int, npt.NDArray[np.float64]]
    first_index: dict[str, int]
    nickname_group: npt.NDArray[np.int32]
    """Per first-name id: the id of its formal name when it is a known nickname, else itself."""
    particle_surname: npt.NDArray[np.bool_]
    compound_first: npt.NDArray[np.bool_]
    accented_first: npt.NDArray[np.bool_]
    accented_surname: npt.NDArray[np.bool_]


_TAIL_SHARE = {ANGLO: 0.14, HISPANIC: 0.03, BLACK: 0.06, ASIAN: 0.02, VIETNAMESE: 0.0,
               SLAVIC: 0.10, MENA: 0.05}  # fmt: skip
"""Share of each group drawn from the long tail of rare (generated) surnames."""


@cache
def name_pools() -> NamePools:
    """Build the name pools once per process."""
    first: list[str] = []
    index: dict[str, int] = {}

    def fid(name: str) -> int:
        if name not in index:
            index[name] = len(first)
            first.append(name)
        return index[name]

    first_ids: dict[tuple[int, int], npt.NDArray[np.int32]] = {}
    first_cum: dict[tuple[int, int], npt.NDArray[np.float64]] = {}
    for key, text in _FIRST.items():
        ranked = list(dict.fromkeys(text.split()))
        ranked = ranked[:12] + list(_COMPOUND_FIRST.get(key, ())) + ranked[12:]
        ids = [fid(n) for n in ranked]
        first_ids[key] = np.asarray(ids, dtype=np.int32)
        first_cum[key] = zipf_cumulative(len(ids), 0.9)
    for pairs in TWIN_PAIRS.values():
        for a, b in pairs:
            fid(a)
            fid(b)
    for formal, nicks in NICKNAMES.items():
        fid(formal)
        for nick in nicks:
            fid(nick)

    # one group per spelling up to accents and case (María = Maria), nicknames join their formal
    first_by_key: dict[str, int] = {}
    group = np.asarray(
        [first_by_key.setdefault(strip_accents(n).upper(), i) for i, n in enumerate(first)],
        dtype=np.int32,
    )
    for formal, nicks in NICKNAMES.items():
        for nick in nicks:
            if group[index[nick]] == index[nick]:
                group[index[nick]] = group[index[formal]]

    surnames: list[str] = []
    sindex: dict[str, int] = {}

    def sid(name: str) -> int:
        if name not in sindex:
            sindex[name] = len(surnames)
            surnames.append(name)
        return sindex[name]

    multi = {n for names in _MULTIWORD_SURNAMES.values() for n in names}
    tail = sorted({o + c for o in _TAIL_ONSETS_TEXT.split() for c in _TAIL_CODAS_TEXT.split()})
    tail_ids = np.asarray([sid(n) for n in tail], dtype=np.int32)
    surname_ids: dict[int, npt.NDArray[np.int32]] = {}
    surname_cum: dict[int, npt.NDArray[np.float64]] = {}
    for g, text in _SURNAMES.items():
        head = list(dict.fromkeys(text.split()))
        extra = [n for n in _MULTIWORD_SURNAMES.get(g, ()) if n not in head]
        ranked = head[:20] + extra + head[20:]
        head_ids = np.asarray([sid(n) for n in ranked], dtype=np.int32)
        cum_head = zipf_cumulative(len(head_ids), 0.9)
        share = _TAIL_SHARE[g]
        if share > 0:
            cum_tail = np.linspace(0, 1, len(tail_ids) + 1)[1:]
            surname_cum[g] = np.concatenate([cum_head * (1 - share), (1 - share) + cum_tail * share])
            surname_ids[g] = np.concatenate([head_ids, tail_ids]).astype(np.int32)
        else:
            surname_cum[g] = cum_head
            surname_ids[g] = head_ids

    particle = np.asarray(
        [(" " in s and s in multi) or s.lower().startswith(("de ", "del ")) for s in surnames],
        dtype=np.bool_,
    )
    plain_first = tuple(strip_accents(n) for n in first)
    plain_sur = tuple(strip_accents(n) for n in surnames)
    return NamePools(
        first=tuple(first),
        first_plain=plain_first,
        first_ids=first_ids,
        first_cum=first_cum,
        surnames=tuple(surnames),
        surnames_plain=plain_sur,
        surname_ids=surname_ids,
        surname_cum=surname_cum,
        first_index=index,
        nickname_group=group,
        particle_surname=particle,
        compound_first=np.asarray([" " in n for n in first], dtype=np.bool_),
        accented_first=np.asarray([a != b for a, b in zip(first, plain_first, strict=True)]),
        accented_surname=np.asarray([a != b for a, b in zip(surnames, plain_sur, strict=True)]),
    )


@dataclass(frozen=True)
class Geography:
    """Cities with state, ZIP block and ethnic mix; streets with alternate spellings."""

    city: tuple[str, ...]
    state: tuple[str, ...]
    city_cum: npt.NDArray[np.float64]
    mix_cum: npt.NDArray[np.float64]
    """(n_cities, n_groups) cumulative ethnic mix."""
    zip_start: npt.NDArray[np.int32]
    zip_count: npt.NDArray[np.int32]
    big: npt.NDArray[np.bool_]
    street: tuple[str, ...]
    street_alt: tuple[str, ...]
    """Alternate spelling of each street name (ordinal word/number, Saint/St); often equal."""
    street_cum: npt.NDArray[np.float64]
    suffix_cum: npt.NDArray[np.float64]


@cache
def geography() -> Geography:
    """Build the place pools once; synthetic towns come from a fixed, seed-independent draw."""
    fixed = np.random.Generator(np.random.PCG64(20240601))
    names = [c[0] for c in _REAL_CITIES]
    states = [c[1] for c in _REAL_CITIES]
    weights = [float(c[2]) for c in _REAL_CITIES]
    mixes = [np.asarray(c[3] if c[3] is not None else _MIX_DEFAULT) for c in _REAL_CITIES]
    state_list = sorted(STATE_ZIP3)
    state_w = np.asarray([3.0 if s in {"CA", "TX", "FL", "NY"} else 1.0 for s in state_list])
    seen = set(zip(names, states, strict=True))
    town_names = [p + s for p in _CITY_PREFIX_TEXT.split() for s in _CITY_SUFFIX_TEXT.split("|")]
    order = fixed.permutation(len(town_names))
    towns: list[tuple[str, str]] = []
    for i in order:
        if len(towns) >= 240:
            break
        st = state_list[int(fixed.choice(len(state_list), p=state_w / state_w.sum()))]
        if (town_names[i], st) not in seen:
            seen.add((town_names[i], st))
            towns.append((town_names[i], st))
    for name in _SPANISH_TOWNS:
        towns.append((name, str(fixed.choice(["TX", "CA", "NM", "AZ", "FL"]))))
    base = np.asarray(_MIX_DEFAULT)
    for rank, (name, st) in enumerate(towns):
        names.append(name)
        states.append(st)
        weights.append(1.6 / (1 + rank) ** 0.35)
        alpha = base * 25 + 0.05
        if name in _SPANISH_TOWNS:
            alpha = np.asarray([0.2, 0.75, 0.02, 0.01, 0.0, 0.01, 0.01]) * 25 + 0.05
        mixes.append(fixed.dirichlet(alpha))

    w = np.asarray(weights)
    city_cum = np.cumsum(w) / w.sum()
    mix = np.stack([m / m.sum() for m in mixes])
    mix_cum = np.cumsum(mix, axis=1)
    mix_cum[:, -1] = 1.0

    # each state's ZIP range is shared out among its cities, in blocks that never overlap
    zip_start = np.zeros(len(names), dtype=np.int32)
    zip_count = np.zeros(len(names), dtype=np.int32)
    for st, (lo, hi) in STATE_ZIP3.items():
        members = [i for i, s in enumerate(states) if s == st]
        if not members:
            continue
        span = (hi - lo + 1) * 100 // len(members)
        for k, i in enumerate(members):
            zip_start[i] = lo * 100 + k * span + 1 + int(fixed.integers(0, max(1, span // 4)))
            zip_count[i] = int(np.clip(round(w[i] * 4), 1, max(1, span // 2)))

    streets = list(dict.fromkeys([*_STREET_WORDS.split(), *_STREET_PHRASES]))
    alts = [s.replace("Saint ", "St ") if s.startswith("Saint ") else s for s in streets]
    ordinals = []
    for n in range(1, 31):
        suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
        ordinals.append((f"{n}{suffix}", _ORDINAL_WORDS[n - 1] if n <= 10 else f"{n}{suffix}"))
    # numbered streets are common: put them near the head of the ranking
    street = [*streets[:3], *(o[0] for o in ordinals[:12]), *streets[3:], *(o[0] for o in ordinals[12:])]
    alt_map = dict(zip(streets, alts, strict=True)) | dict(ordinals)
    street_alt = [alt_map[s] for s in street]
    return Geography(
        city=tuple(names),
        state=tuple(states),
        city_cum=city_cum,
        mix_cum=mix_cum,
        zip_start=zip_start,
        zip_count=zip_count,
        big=w >= 9.0,
        street=tuple(street),
        street_alt=tuple(street_alt),
        street_cum=zipf_cumulative(len(street), 0.7),
        suffix_cum=np.cumsum([s[2] for s in SUFFIXES]) / sum(s[2] for s in SUFFIXES),
    )
